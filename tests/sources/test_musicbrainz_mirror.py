"""MusicBrainz by recording ID (tracks.musicbrainz_id) and through a mirror (MUSICBRAINZ_URL), on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.cli import main
from collectors.sources.musicbrainz import (
    MusicBrainzSource,
    api_url,
    default_interval,
    default_policy,
    is_public,
)
from tests.servers.local_site import LocalSite
from tests.servers.musicbrainz import REC_BY_ID, REC_TEARDROP, serve_musicbrainz
from tests.sources.helpers import CONTACT, claims_of, make_layout, make_track, test_session

UNKNOWN_MBID = "00000000-1111-4222-8333-444444444444"


def with_mbid(track: dict[str, object], mbid: str) -> dict[str, object]:
    return {**track, "musicbrainz_id": mbid}


def test_a_known_recording_id_is_looked_up_directly_without_any_search() -> None:
    with LocalSite() as site:
        serve_musicbrainz(site)
        mb = MusicBrainzSource(test_session(None, interval=0.01), base_url=site.url("/ws/2"))
        # no ISRC, and a title no search would find: the ID alone finds the recording
        by_id = mb.claims_for(with_mbid(make_track("t01", ["Massive Attack"], "Track 3"), REC_BY_ID))
        # an ISRC too: the ID still wins and the ISRC is not asked
        both = mb.claims_for(with_mbid(make_track("t02", ["Massive Attack"], "Teardrop", isrc="GBAAA9800001"),
                                       REC_TEARDROP))
        paths = [h.path for h in site.hits]
        first = site.hits[0]
    assert [(c.raw_genre, c.weight) for c in by_id] == [("trip hop", 1.0), ("dub", 0.5)]
    assert by_id[0].evidence == f"https://musicbrainz.org/recording/{REC_BY_ID}"
    assert by_id[0].detail.endswith(f"matched by MusicBrainz ID {REC_BY_ID} (tracks table)")
    assert both[0].evidence.endswith(REC_TEARDROP)
    assert paths == [f"/ws/2/recording/{REC_BY_ID}", f"/ws/2/recording/{REC_TEARDROP}"]
    assert first.param("inc") == "genres+tags+artist-credits+releases+release-groups"


def test_an_id_the_server_does_not_know_falls_back_to_isrc_and_search() -> None:
    with LocalSite() as site:
        serve_musicbrainz(site, unknown_recordings=(UNKNOWN_MBID,))
        mb = MusicBrainzSource(test_session(None, interval=0.01), base_url=site.url("/ws/2"))
        claims = mb.claims_for(with_mbid(make_track("t01", ["Massive Attack"], "Teardrop", isrc="GBAAA9800001"),
                                         UNKNOWN_MBID))
        paths = [h.path for h in site.hits]
    assert paths == [f"/ws/2/recording/{UNKNOWN_MBID}", "/ws/2/isrc/GBAAA9800001", f"/ws/2/recording/{REC_TEARDROP}"]
    assert claims[0].raw_genre == "trip hop" and "matched by ISRC GBAAA9800001" in claims[0].detail


def test_mirror_url_forms_and_the_public_rate_rule() -> None:
    assert api_url(None, {}) == "https://musicbrainz.org/ws/2"
    assert api_url(None, {"MUSICBRAINZ_URL": "http://localhost:5000"}) == "http://localhost:5000/ws/2"
    assert api_url(None, {"MUSICBRAINZ_URL": "http://mirror:5000/ws/2/"}) == "http://mirror:5000/ws/2"
    assert api_url(None, {"GENRE_MUSICBRAINZ_URL": "http://old:5000"}) == "http://old:5000/ws/2"  # the older name
    assert api_url("http://flag:1", {"MUSICBRAINZ_URL": "http://env:2"}) == "http://flag:1/ws/2"
    with pytest.raises(ValueError, match="expected http"):
        api_url("localhost:5000", {})
    assert is_public("https://musicbrainz.org/ws/2") and is_public("https://beta.musicbrainz.org/ws/2")
    assert not is_public("http://localhost:5000/ws/2")
    assert default_interval("https://musicbrainz.org/ws/2") == 1.0
    assert default_interval("http://localhost:5000/ws/2") == 0.0
    # whatever a mirror is allowed, musicbrainz.org itself keeps its floor of 1 request/s
    mirror_policy = default_policy(None, contact=CONTACT, interval_s=0.0)
    assert mirror_policy.interval_for("localhost:5000") == 0.0
    assert mirror_policy.interval_for("musicbrainz.org") == 1.0


def test_labels_asks_the_mirror_named_in_dot_env(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tracks = [with_mbid(make_track(f"t{i:02d}", ["Massive Attack"], "Inertia Creeps"), REC_BY_ID) for i in range(6)]
    layout = make_layout(tmp_path, tracks)
    for name in ("MUSICBRAINZ_URL", "GENRE_MUSICBRAINZ_URL"):  # restored after the test (the .env sets it)
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    with LocalSite() as site:
        serve_musicbrainz(site)
        env_file = tmp_path / "mirror.env"
        env_file.write_text(f"MUSICBRAINZ_URL={site.url('')}\n", encoding="utf-8")  # the root, as Docker prints it
        monkeypatch.setenv("GENRE_ENV_FILE", str(env_file))
        assert main(["labels", "-q", "--data", str(layout.root), "--contact", CONTACT]) == 0
        hits = list(site.hits)
    # the mirror was asked by ID (once: the answer is cached for the other tracks), with the same User-Agent
    assert [h.path for h in hits] == [f"/ws/2/recording/{REC_BY_ID}"]
    assert CONTACT in hits[0].headers["user-agent"] and "genre-dataset-toolkit/" in hits[0].headers["user-agent"]
    assert {c["track_id"] for c in claims_of(layout)} == {t["track_id"] for t in tracks}


def test_labels_paces_a_mirror_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tracks = [make_track("t01", ["Massive Attack"], "Teardrop", isrc="GBAAA9800001"),
              make_track("t02", ["Massive Attack"], "Angel", "Mezzanine", isrc="GBAAA9800002")]
    layout = make_layout(tmp_path, tracks)
    monkeypatch.setenv("GENRE_ENV_FILE", "")
    with LocalSite() as site:
        serve_musicbrainz(site)
        monkeypatch.setenv("MUSICBRAINZ_URL", site.url("/ws/2"))
        assert main(["labels", "-q", "--data", str(layout.root), "--contact", CONTACT,
                     "--musicbrainz-request-interval", "0.2"]) == 0
        gaps = site.gaps()
    assert len(gaps) >= 4 and min(gaps) >= 0.2
