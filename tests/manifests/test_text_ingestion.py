"""Text from sources is cleaned where it comes in: one readable line, whatever the source sent."""

from __future__ import annotations

import pytest

from collectors.sources.base import Claim
from collectors.spotify.fetch import entry_from_item
from manifests.text import clean_text


@pytest.mark.parametrize(("raw", "clean"), [
    ("\rCarriage first", "Carriage first"),
    ("line one\nline two\r\nthree", "line one line two three"),
    ("tab\there \x0b\x0cand\u2028there\u2029", "tab here and there"),
    ("bell\x07 esc\x1b[31m red\x00", "bell esc [31m red"),
    ("Bjo\u0308rk", "Björk"),  # decomposed umlaut composed (NFC)
    ("👩\u200d🎤 keeps its joiner", "👩\u200d🎤 keeps its joiner"),
    ("   ", None),
    (None, None),
])
def test_clean_text(raw: str | None, clean: str | None) -> None:
    assert clean_text(raw) == clean


def test_a_spotify_title_with_control_characters_becomes_one_clean_line() -> None:
    obj = {"type": "track", "id": "4uLU6hMCjMI75M1A2tKUQC", "name": "\rIntro\n(Live)\x00",
           "artists": [{"name": "Sigur Ro\u0301s\t"}], "album": {"name": "Ágætis\x1bbyrjun"}, "duration_ms": 1000}
    entry = entry_from_item({"item": obj, "is_local": False})
    assert not isinstance(entry, str)
    assert (entry.title, entry.artists, entry.album) == ("Intro (Live)", ["Sigur Rós"], "Ágætis byrjun")


def test_claims_are_cleaned_when_they_become_rows() -> None:
    row = Claim("abc001", "lastfm", "hip\nhop\x00", 0.5, "https://example.org/x\r", "votes:\t3").row()
    assert (row["raw_genre"], row["evidence"], row["detail"]) == ("hip hop", "https://example.org/x", "votes: 3")
