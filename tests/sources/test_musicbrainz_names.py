"""MusicBrainz matching compares names with the normaliser every matcher shares (manifests.ids.name_key)."""

from __future__ import annotations

from typing import Any

from collectors.sources.musicbrainz import MusicBrainzSource


def recording(title: str, artist: str, length_ms: int, releases: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A WS/2 recording as /ws/2/isrc and /ws/2/recording return it (only the fields matching reads)."""
    return {"id": "rec", "title": title, "length": length_ms,
            "artist-credit": [{"name": artist, "joinphrase": "", "artist": {"id": "a", "name": artist}}],
            "releases": releases or []}


def test_articles_ampersands_accents_and_credits_do_not_lower_the_match() -> None:
    source = MusicBrainzSource.__new__(MusicBrainzSource)  # matching needs no session
    track = {"title": "Crawl Home", "artists": ["Desert Sessions"], "duration_ms": 235_000}
    assert source._match_score(track, recording("Crawl Home", "The Desert Sessions", 235_000)) == (100.0, 100.0, -0.0)
    sigur = {"title": "Svefn-g-englar", "artists": ["Sigur Ros"], "duration_ms": 600_000}
    assert source._match_score(sigur, recording("Svefn-g-englar", "Sigur Rós", 600_000))[1] == 100.0
    lucky = {"title": "Get Lucky (feat. Pharrell Williams & Nile Rodgers) - Radio Edit", "artists": ["Daft Punk"],
             "duration_ms": 248_000}
    assert source._match_score(lucky, recording("Get Lucky (radio edit)", "Daft Punk", 248_000))[0] == 100.0


def test_the_release_group_named_like_the_album_is_found_whatever_its_spelling() -> None:
    groups = [{"id": "rg-0910", "title": "Volumes 9 and 10", "primary-type": "Album", "secondary-types": []},
              {"id": "rg-1112", "title": "Volumes 11 and 12", "primary-type": "Album", "secondary-types": []}]
    rec = recording("Crawl Home", "Desert Sessions", 235_000, [{"release-group": g} for g in groups])
    track = {"title": "Crawl Home", "artists": ["The Desert Sessions"], "album": "Vols. 11 & 12"}
    group = MusicBrainzSource._release_group(track, rec)
    assert group is not None and group["id"] == "rg-1112"  # not the first plain album
