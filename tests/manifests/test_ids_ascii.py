"""normalize_text's ASCII shortcut gives exactly what the full Unicode path gives."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from manifests.ids import normalize_text


def _full_path(text: str) -> str:
    """The Unicode recipe without the shortcut (NFKD, drop combining marks, casefold)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127)))
def test_ascii_names_normalise_as_the_unicode_path_does(text: str) -> None:
    assert normalize_text(text) == _full_path(text)


def test_accents_and_ligatures_still_fold() -> None:
    assert normalize_text("Beyoncé & Sigur Rós") == "beyonce and sigur ros"
    assert normalize_text("Straße") == normalize_text("STRASSE")
    assert normalize_text("Ænima") == "aenima"


@given(st.text(alphabet="aZ09 _\t&-.'é"))
def test_letters_digits_and_spaces_normalise_as_the_unicode_path_does(text: str) -> None:
    """Names made of letters, digits and spaces skip the punctuation pattern; the others do not."""
    assert normalize_text(text) == _full_path(text)


def test_plain_names_collapse_spaces_and_lower_case() -> None:
    assert normalize_text("  Artist   5305 ") == "artist 5305"
    assert normalize_text("AC DC") == "ac dc"
    assert normalize_text("snake_case") == "snake_case"  # "_" is a word character, kept
    assert normalize_text("   ") == ""
