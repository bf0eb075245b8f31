"""normalize_title's guards (a pattern runs only when the title could match it) change no result."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from manifests.ids import _BRACKETS, _FEAT, _WITH, normalize_text, normalize_title


def _every_pattern(title: str) -> str:
    """normalize_title as it was before the guards: every pattern runs on every title."""
    title = re.split(r"\s+-\s+", title or "", maxsplit=1)[0]
    title = _WITH.sub("", _FEAT.sub("", title))
    title = _BRACKETS.sub(" ", title)
    return normalize_text(title)


#: Pieces that make the patterns match, nearly match or fold oddly under IGNORECASE (dotted and
#: dotless i, Kelvin sign, long s, ligatures), among plain words and punctuation.
_PIECES = st.sampled_from(["feat", "FEAT", "Feat.", "ft", "Ft.", "fT", "featuring", "FEATURING", "ﬅ", "ﬀt",
                           "fe\u0301at", "İ", "ı", "K", "ſ", "with", "WITH", "(", ")", "[", "]", " - ", "-", " -",
                           "- ", "\t-\t", "\u00a0-\u00a0", " ", "Song", "Left", "soft", "Beyoncé", "Ænima", "&",
                           "é", "ß", "Straße", "x", "2011", "Remastered", "live"])
_TITLES = st.lists(_PIECES | st.text(max_size=3), max_size=12).map("".join)


@given(_TITLES)
def test_guarded_patterns_give_what_every_pattern_gives(title: str) -> None:
    assert normalize_title(title) == _every_pattern(title)


@given(st.text())
def test_any_text_gives_what_every_pattern_gives(title: str) -> None:
    assert normalize_title(title) == _every_pattern(title)


def test_credits_remarks_and_tails_still_go() -> None:
    assert normalize_title("Get Lucky (feat. Pharrell Williams) - Radio Edit") == "get lucky"
    assert normalize_title("Song FT. Somebody") == "song"
    assert normalize_title("Song (with X) [Live]") == "song"
    assert normalize_title("Left Behind") == "left behind"  # "ft" inside a word is no credit
    assert normalize_title("Señor [Remastered]") == "senor"
    assert normalize_title("") == ""
