"""Recognise challenge and ban pages, so a run stops instead of hammering a wall.

Recognising is all this does: the layer never solves a challenge, rotates
addresses or disguises itself.  The checks are cheap string tests on the first
part of an HTML body; JSON APIs are only checked for the Cloudflare header.
"""

from __future__ import annotations

import html
import re

import requests

_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_SEC_VERIFY = re.compile(r"<form\b[^>]*\bid\s*=\s*[\"']?sec_verify\b", re.IGNORECASE)
_CHALLENGE_MARKERS = ("challenge-platform", "cf-chl-", "cf_chl_", "cf-browser-verification", "g-recaptcha",
                      "h-captcha", "hcaptcha.com", "turnstile")
#: bytes of a body inspected (challenge markers sit near the top)
SCAN_BYTES = 256 * 1024


def page_title(text: str) -> str:
    """The text of the first <title>, unescaped and with collapsed spaces ('' when absent)."""
    match = _TITLE.search(text)
    return " ".join(html.unescape(match.group(1)).split()) if match else ""


def block_reason_in_html(text: str, status: int = 200) -> str | None:
    """Why an HTML page is a challenge or ban page, or None when it looks like a real page."""
    head = text[:SCAN_BYTES]
    title = page_title(head)
    folded = title.casefold()
    if folded.startswith("just a moment"):
        return f"Cloudflare challenge page (title {title!r})"
    if "ip blocked" in folded or "ip banned" in folded:
        return f"the site blocked this IP address (title {title!r})"
    if _SEC_VERIFY.search(head):
        return "human-verification form (form#sec_verify)"
    if status == 403:
        lowered = head.lower()
        if "attention required" in folded or any(m in lowered for m in _CHALLENGE_MARKERS):
            return "HTTP 403 challenge page"
    return None


def block_reason(response: requests.Response, *, inspect_body: bool = True) -> str | None:
    """Why a response is a challenge or ban page, or None."""
    if response.headers.get("cf-mitigated", "").strip().lower() == "challenge":
        return "Cloudflare challenge (header cf-mitigated: challenge)"
    ctype = response.headers.get("Content-Type", "").lower()
    if not inspect_body or ("html" not in ctype and not (ctype == "" and response.status_code == 403)):
        return None
    try:
        raw = response.content[:SCAN_BYTES]
    except requests.RequestException:
        return None
    text = raw.decode(response.encoding or "utf-8", "replace") if raw else ""
    return block_reason_in_html(text, response.status_code)
