"""Matching a track: search rounds against a fake YouTube Music client, overrides, fallbacks, refusals.

ytmusicapi and yt-dlp's YouTube search are the boundary we cannot run offline: the
fakes below return results shaped like theirs (tests/youtube/fixtures.py).  Everything
from there on (rounds, scoring, ranking, overrides, fallback) is our real code.
"""

from __future__ import annotations

from typing import Any

import pytest

from collectors.youtube.errors import YouTubeStop, classify_video_error, stop_for
from collectors.youtube.match import match_track
from collectors.youtube.score import ScoreConfig
from collectors.youtube.search import (
    ChainSearcher,
    SearchError,
    SearchRound,
    TrackQuery,
    YtDlpSearcher,
    YTMusicSearcher,
)
from tests.youtube.fixtures import BLINDING, ytm_song, ytm_video


class FakeYTMusic:
    """Answers ``search(query, filter=..., limit=..., ignore_spelling=...)`` from canned results."""

    def __init__(self, by_query: dict[tuple[str, str], list[dict[str, Any]]], fail: Exception | None = None) -> None:
        self.by_query = by_query
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    def search(self, query: str, filter: str | None = None, limit: int = 20, ignore_spelling: bool = False):
        self.calls.append((query, filter))
        if self.fail is not None:
            raise self.fail
        return self.by_query.get((query, filter), [])


def _blinding_client(**kw: Any) -> FakeYTMusic:
    q = "The Weeknd Blinding Lights"
    return FakeYTMusic({("USUG11904206", "songs"): BLINDING["isrc"], (q, "songs"): BLINDING["songs"],
                        (q, "videos"): BLINDING["videos"]}, **kw)


class ListSearcher:
    """A fallback backend returning one fixed round (stands in for another search service)."""

    def __init__(self, rounds: list[SearchRound]) -> None:
        self._rounds = rounds
        self.used = 0

    def rounds(self, track):
        self.used += 1
        yield from self._rounds

    def candidate_for(self, video_id):  # pragma: no cover - not used here
        raise AssertionError


TRACK = TrackQuery.from_row(BLINDING["track"])


def test_isrc_query_comes_first_and_a_good_hit_ends_the_search() -> None:
    client = _blinding_client()
    result = match_track(TRACK, YTMusicSearcher(client=client))
    assert client.calls == [("USUG11904206", "songs")]  # one request: no songs/videos query needed
    chosen = result.accepted[0]
    assert chosen.video_id == "atvBlindL01" and chosen.detail["bonus:isrc"] > 0
    assert result.rounds_used == ["ytmusic:isrc"]


def test_without_isrc_songs_are_asked_before_videos() -> None:
    client = _blinding_client()
    track = TrackQuery.from_row({**BLINDING["track"], "isrc": None})
    result = match_track(track, YTMusicSearcher(client=client))
    assert client.calls == [("The Weeknd Blinding Lights", "songs")]
    assert result.accepted[0].video_id == "atvBlindL01"
    assert result.runner_up("atvBlindL01").video_id != "atvBlindL01"


def test_videos_round_is_used_when_songs_find_nothing_good() -> None:
    q = "The Weeknd Blinding Lights"
    client = FakeYTMusic({(q, "songs"): [BLINDING["songs"][1]], (q, "videos"): BLINDING["videos"]})
    track = TrackQuery.from_row({**BLINDING["track"], "isrc": None})
    result = match_track(track, YTMusicSearcher(client=client))
    assert [c[1] for c in client.calls] == ["songs", "videos"]
    assert result.accepted[0].video_id == "audioBlind1"  # official audio upload on the artist's channel
    assert [s.video_id for s in result.accepted[:2]] == ["audioBlind1", "lyricBlind1"]


def test_remaster_tails_are_left_out_of_the_query() -> None:
    track = TrackQuery("t0000000000001", "Here Comes The Sun - Remastered 2009", ("The Beatles",), None, 185.0)
    assert track.search_text == "The Beatles Here Comes The Sun"


def test_language_is_fixed_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    import ytmusicapi

    seen: dict[str, Any] = {}

    class Recorder(FakeYTMusic):
        def __init__(self, **kwargs: Any) -> None:
            seen.update(kwargs)
            super().__init__({})

    monkeypatch.setattr(ytmusicapi, "YTMusic", Recorder)
    session = object()
    list(YTMusicSearcher(session=session).rounds(TRACK))
    assert seen == {"requests_session": session, "language": "en"}


def test_no_match_names_the_best_candidate_and_why() -> None:
    q = "The Weeknd Blinding Lights"
    client = FakeYTMusic({(q, "songs"): [BLINDING["songs"][1]], (q, "videos"): [BLINDING["videos"][5]]})
    track = TrackQuery.from_row({**BLINDING["track"], "isrc": None})
    result = match_track(track, YTMusicSearcher(client=client))
    assert not result.matched
    assert "nothing passed the threshold 0.65 among 2 candidates" in result.reason
    # the best rejected one is named with why: a cover album's track, and the rest counted
    assert "best wrongArtst1 ('Blinding Lights'): a different recording: cover" in result.reason
    assert result.reason.endswith("rejected: 1 cover, 1 loop")
    assert result.runner_up(None) is not None  # kept for review
    # ... and the breakdown the downloads table keeps lists every rejected video with its reason
    detail = result.runner_up(None).detail
    assert {k for k in detail if k.startswith("rejected:") and k.count(":") == 2} == {
        "rejected:cover:wrongArtst1", "rejected:loop:hourBlindL1"}


def test_no_results_at_all() -> None:
    result = match_track(TRACK, YTMusicSearcher(client=FakeYTMusic({})))
    assert not result.matched and result.reason == "no search results"


def test_a_higher_threshold_turns_a_weak_match_into_no_match() -> None:
    q = "The Weeknd Blinding Lights"
    client = FakeYTMusic({(q, "videos"): [BLINDING["videos"][3]]})  # only the live version
    track = TrackQuery.from_row({**BLINDING["track"], "isrc": None})
    assert not match_track(track, YTMusicSearcher(client=client), config=ScoreConfig(threshold=0.9)).matched


def test_pinned_video_skips_the_search() -> None:
    client = _blinding_client()
    result = match_track(TRACK, YTMusicSearcher(client=client), pinned="pinnedVid01")
    assert client.calls == []
    assert result.pinned and result.accepted[0].video_id == "pinnedVid01" and result.accepted[0].score == 1.0
    assert result.accepted[0].candidate.url == "https://www.youtube.com/watch?v=pinnedVid01"


def test_forbidden_videos_are_never_chosen() -> None:
    client = _blinding_client()
    result = match_track(TRACK, YTMusicSearcher(client=client), forbidden={"atvBlindL01"})
    assert "atvBlindL01" not in [s.video_id for s in result.ranked]
    assert result.accepted[0].video_id == "audioBlind1"


def test_everything_forbidden_is_reported_as_such() -> None:
    client = FakeYTMusic({("USUG11904206", "songs"): BLINDING["isrc"]})
    track = TRACK
    result = match_track(track, YTMusicSearcher(client=client), forbidden={"atvBlindL01"})
    assert result.reason == "every candidate found (1) is forbidden in overrides.csv"


def test_pinned_and_forbidden_together_is_a_clear_no_match() -> None:
    result = match_track(TRACK, YTMusicSearcher(client=FakeYTMusic({})), pinned="sameVideo01",
                         forbidden={"sameVideo01"})
    assert not result.matched and "both pinned and forbidden" in result.reason


def test_fallback_is_asked_only_when_youtube_music_found_nothing_acceptable() -> None:
    fallback_round = SearchRound("ytsearch", [], fallback=True)
    good = ListSearcher([fallback_round])
    match_track(TRACK, ChainSearcher(YTMusicSearcher(client=_blinding_client()), good))
    assert good.used == 0

    from collectors.youtube.search import candidate_from_ytmusic

    rescue = ListSearcher([SearchRound("ytsearch", [candidate_from_ytmusic(
        ytm_video("rescueVid01", "The Weeknd - Blinding Lights", "The Weeknd", 200), "ytsearch")], fallback=True)])
    result = match_track(TRACK, ChainSearcher(YTMusicSearcher(client=FakeYTMusic({})), rescue))
    assert rescue.used == 1 and result.accepted[0].video_id == "rescueVid01"
    assert result.rounds_used[-1] == "ytsearch"


def test_a_failing_youtube_music_falls_back_and_all_failing_is_a_search_error() -> None:
    from collectors.youtube.search import candidate_from_ytmusic

    broken = YTMusicSearcher(client=FakeYTMusic({}, fail=KeyError("contents")))
    rescue = ListSearcher([SearchRound("ytsearch", [candidate_from_ytmusic(
        ytm_song("rescueVid01", "Blinding Lights", ["The Weeknd"], 200), "ytsearch")], fallback=True)])
    assert match_track(TRACK, ChainSearcher(broken, rescue)).accepted[0].video_id == "rescueVid01"

    with pytest.raises(SearchError, match="YTMusicSearcher"):
        match_track(TRACK, ChainSearcher(broken))


def test_ytdlp_search_fallback_parses_flat_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    import yt_dlp

    from tests.youtube.fixtures import BLINDING as B

    asked: list[str] = []

    class FakeYDL:
        def __init__(self, params: dict[str, Any]) -> None:
            assert params["extract_flat"] and params["extractor_args"]["youtube"]["lang"] == ["en"]

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def extract_info(self, query: str, download: bool = True):
            asked.append(query)
            return {"_type": "playlist", "entries": B["ytsearch"]}

    monkeypatch.setattr(yt_dlp, "YoutubeDL", FakeYDL)
    result = match_track(TRACK, ChainSearcher(YTMusicSearcher(client=FakeYTMusic({})), YtDlpSearcher(n=5)))
    assert asked == ["ytsearch5:The Weeknd Blinding Lights"]
    assert result.accepted[0].video_id == "audioBlind1"
    assert result.accepted[0].detail.get("bonus:official")


def test_rate_limit_from_youtube_music_stops_the_run() -> None:
    from ytmusicapi.exceptions import YTMusicServerError

    client = FakeYTMusic({}, fail=YTMusicServerError("Server returned HTTP 429: Too Many Requests.\n"))
    with pytest.raises(YouTubeStop, match="rate limiting"):
        match_track(TRACK, ChainSearcher(YTMusicSearcher(client=client), ListSearcher([])))


BOT = ("ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser or "
       "--cookies for the authentication. See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp"
       "  for how to manually pass cookies. Also see  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#exporting-"
       "youtube-cookies  for tips on effectively exporting YouTube cookies")


@pytest.mark.parametrize("message, expected", [
    (BOT, "not a bot"),
    ("ERROR: [youtube] abc: Sign in to confirm you're not a bot", "not a bot"),
    ("ERROR: unable to download video data: HTTP Error 429: Too Many Requests", "rate limiting"),
])
def test_bot_checks_and_rate_limits_are_stops(message: str, expected: str) -> None:
    stop = stop_for(message)
    assert isinstance(stop, YouTubeStop) and expected in str(stop)
    assert "--cookies" in str(stop) or "--download-interval" in str(stop)


@pytest.mark.parametrize("message, kind, retryable", [
    ("ERROR: [youtube] abc: Sign in to confirm your age. This video may be inappropriate for some users.",
     "age_restricted", False),
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access to this video", "private", False),
    ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "unavailable", False),
    ("ERROR: [youtube] abc: Join this channel to get access to members-only content", "members_only", False),
    ("ERROR: [youtube] abc: This live event will begin in 3 hours.", "live", False),
    ("ERROR: unable to download video data: HTTP Error 403: Forbidden", "forbidden", True),
    ("ERROR: [download] Got error: The read operation timed out", "transient", True),
    ("ERROR: something nobody has seen before", "error", True),
])
def test_per_video_errors_are_sorted(message: str, kind: str, retryable: bool) -> None:
    problem = classify_video_error(message)
    assert (problem.kind, problem.retryable) == (kind, retryable)
    assert stop_for(message) is None
    assert not problem.reason.startswith("ERROR")
