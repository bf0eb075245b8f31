"""How YouTube says "stop" or "not this video", recognised from error text.

yt-dlp and ytmusicapi report refusals as exception messages, not types, so the
words are matched here once and both searching and downloading use the result.
A refusal of the whole client (bot check, rate limit) stops the run; a refusal
of one video (private, age-restricted, removed) only skips that video.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collectors.net.errors import StopRun
from collectors.net.redact import redact_text

#: "Sign in to confirm you're not a bot" (YouTube uses a typographic apostrophe).
_BOT = re.compile(r"confirm you.?re not a bot|not a robot|unusual traffic", re.IGNORECASE)
_RATE = re.compile(r"HTTP Error 429|\b429\b.*too many requests|too many requests", re.IGNORECASE)

#: Per-video refusals: (kind, pattern, retryable, words for the user).
_VIDEO_RULES: tuple[tuple[str, re.Pattern[str], bool, str], ...] = (
    ("age_restricted", re.compile(r"confirm your age|age.restricted|inappropriate for some users|"
                                  r"age_verification|age limit", re.IGNORECASE),
     False, "age-restricted video"),
    ("private", re.compile(r"private video|video is private", re.IGNORECASE), False, "private video"),
    ("members_only", re.compile(r"members.only|join this channel", re.IGNORECASE), False,
     "members-only video"),
    ("live", re.compile(r"live event will begin|premieres in|is_live|is_upcoming|live stream",
                        re.IGNORECASE), False, "live stream or premiere, not a recording"),
    ("unavailable", re.compile(r"video unavailable|not available|no longer available|has been removed|"
                               r"account .* terminated|copyright claim|HTTP Error 404|HTTP Error 410|"
                               r"unsupported url|no video formats|requested format is not available",
                               re.IGNORECASE),
     False, "video unavailable"),
    ("forbidden", re.compile(r"HTTP Error 403", re.IGNORECASE), True,
     "HTTP 403 Forbidden (often an expired media URL; update yt-dlp or add --cookies if it persists)"),
    ("transient", re.compile(r"timed out|timeout|connection (reset|refused|aborted)|remote end closed|"
                             r"incomplete read|content too short|did not get any data|HTTP Error 5\d\d|"
                             r"temporary failure|network is unreachable|broken pipe|"
                             r"bytes read, \d+ more expected", re.IGNORECASE),
     True, "network error"),
)


class YouTubeStop(StopRun):
    """YouTube refuses this client for now (bot check or rate limit): stop, keep what is done."""


@dataclass(frozen=True)
class VideoProblem:
    """Why one video could not be fetched, and whether trying the same video later may work."""

    kind: str
    retryable: bool
    reason: str


def clean_message(text: str) -> str:
    """One line of an error message, without yt-dlp's ``ERROR:`` prefix or colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text))
    text = re.sub(r"^\s*ERROR:\s*", "", text)
    return redact_text(" ".join(text.split()))


def stop_for(message: str, url: str = "https://www.youtube.com/") -> YouTubeStop | None:
    """The stop to raise when ``message`` says YouTube refuses this client, else None."""
    text = clean_message(message)
    if _BOT.search(text):
        return YouTubeStop(
            "YouTube asks to sign in to confirm you're not a bot; stopped. Wait an hour, slow down "
            "(--download-interval), or pass a cookies file of a logged-in browser (--cookies FILE), then rerun: "
            "finished tracks are kept", url)
    if _RATE.search(text):
        return YouTubeStop(
            "YouTube is rate limiting this address (HTTP 429 Too Many Requests); stopped. Wait an hour "
            "or raise --download-interval, then rerun: finished tracks are kept", url)
    return None


def classify_video_error(message: str) -> VideoProblem:
    """Sort a per-video error into a kind; unknown errors are retryable (the next run tries again)."""
    text = clean_message(message)
    for kind, pattern, retryable, words in _VIDEO_RULES:
        if pattern.search(text):
            return VideoProblem(kind, retryable, f"{words}: {text[:300]}")
    return VideoProblem("error", True, text[:300] or "unknown download error")
