"""Names compare the way people read them: case, accents, punctuation and credits do not matter."""

import pytest

from manifests.ids import artist_title_key, make_track_id, normalize_text, normalize_title


@pytest.mark.parametrize(("a", "b"), [
    ("Sigur Rós", "sigur ros"), ("Ágætis byrjun", "Agaetis Byrjun"), ("Mø", "MO"), ("Straße", "strasse"),
    ("Łona", "Lona"), ("Simon & Garfunkel", "Simon and Garfunkel"), ("AC/DC", "ac dc"), ("Beyoncé", "BEYONCE"),
])
def test_same_name_normalises_the_same(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)


def test_titles_lose_credits_and_remarks() -> None:
    assert normalize_title("Get Lucky (feat. Pharrell Williams) - Radio Edit") == "get lucky"
    assert normalize_title("Song [Remastered 2011]") == "song"
    assert normalize_title("Dancing with Myself") == "dancing with myself"
    assert normalize_title("Without Me") == "without me"
    assert normalize_title("Stay (with Justin Bieber)") == "stay"
    assert normalize_title("Left Behind ft. Someone") == "left behind"
    assert artist_title_key(["Daft Punk", "Pharrell"], "Get Lucky") == artist_title_key(["daft punk"], "GET LUCKY")


def test_track_ids_are_stable_and_path_safe() -> None:
    a = make_track_id("spotify", "4uLU6hMCjMI75M1A2tKUQC")
    assert a == make_track_id("spotify", "4uLU6hMCjMI75M1A2tKUQC")
    assert a != make_track_id("spotify", "4uLU6hMCjMI75M1A2tKUQc"), "Spotify IDs are case-sensitive"
    assert a.isalnum() and a.islower() and len(a) == 16
