"""The default taxonomy and the ordered mapping function: what users' raw genre strings become."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labeling.taxonomy import DEFAULT_TAXONOMY, Taxonomy, load_taxonomy, normalize_genre
from manifests.schema import GENRE_PATTERN

DEMO_GENRES = ("ambient", "drum and bass", "liquid funk", "hip hop", "house", "jazz", "reggae", "rock", "techno")


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return load_taxonomy(DEFAULT_TAXONOMY)


@pytest.mark.parametrize(("raw", "expected"), [
    ("Hip Hop", "hip hop"), ("hip-hop", "hip hop"), ("Rap", "hip hop"), ("HIPHOP", "hip hop"),
    ("Hip-Hop/Rap", "hip hop"), ("German Hip Hop", "hip hop"), ("trap", "trap"),
    ("r'n'b", "r&b"), ("R&B", "r&b"), ("RnB", "r&b"), ("Rhythm & Blues", "r&b"),
    ("drum & bass", "drum and bass"), ("Drum & Bass", "drum and bass"), ("dnb", "drum and bass"),
    ("Drum'n'Bass", "drum and bass"), ("drum n bass", "drum and bass"), ("D&B", "drum and bass"),
    ("liquid dnb", "liquid funk"), ("Liquid Drum & Bass", "liquid funk"), ("liquid dnb classics", "liquid funk"),
    ("Alternative Rock", "alternative rock"), ("alt-rock", "alternative rock"),
    ("Rock and Roll", "rock and roll"), ("Rock 'n' Roll", "rock and roll"), ("rock’n’roll", "rock and roll"),
    ("Rock & Roll", "rock and roll"), ("Rock", "rock"), ("Danish Rock", "rock"),
    ("K-Pop", "k-pop"), ("kpop", "k-pop"), ("Synthpop", "synth-pop"), ("Reggaetón", "reggaeton"),
    ("Post-Punk Revival", "post-punk"), ("Melodic Death Metal", "melodic death metal"), ("lofi house", "house"),
    ("  DEEP   house ", "deep house"), ("Ambient", "ambient"), ("Techno", "techno"), ("Reggae", "reggae"),
])
def test_raw_strings_map_to_canonical_genres(tax: Taxonomy, raw: str, expected: str) -> None:
    assert tax.map(raw) == expected


@pytest.mark.parametrize("raw", ["seen live", "favorites", "", "   ", "!!!", "00s", "female vocalists"])
def test_unknown_strings_stay_unmapped(tax: Taxonomy, raw: str) -> None:
    assert tax.map(raw) is None


def test_steps_are_tried_in_order(tax: Taxonomy) -> None:
    assert tax.explain("Hip-Hop").step == "canonical"
    assert tax.explain("Rap").step == "alias"
    assert tax.explain("HIPHOP").step == "compact"
    german = tax.explain("German Rap")
    assert (german.step, german.genre) == ("rule", "hip hop")
    # "rock and roll" is a canonical name, so the general \brock\b rule never sees it
    assert tax.explain("Rock and Roll").step == "canonical"
    # the liquid rule comes before the general drum and bass rule
    assert tax.explain("liquid dnb anthems").detail.startswith("1 ")


def test_normalisation() -> None:
    assert normalize_genre("Drum'n'Bass") == "drum and bass"
    assert normalize_genre("R&B") == "r and b"
    assert normalize_genre("Électro-Pop") == "electro pop"
    assert normalize_genre("80's  Hip_Hop!") == "80s hip hop"
    assert normalize_genre("rock n' roll") == "rock and roll"
    assert normalize_genre("Straße") == "strasse"


def test_mapping_is_pure_and_deterministic(tax: Taxonomy) -> None:
    raws = ["Hip Hop", "liquid dnb", "seen live", "Rock and Roll", "German Rap", "HIPHOP"]
    first = [tax.map(r) for r in raws]
    fresh = load_taxonomy(DEFAULT_TAXONOMY)
    assert [fresh.map(r) for r in reversed(raws)] == list(reversed(first))
    assert [tax.map(r) for r in raws] == first


def test_default_taxonomy_is_complete_and_valid(tax: Taxonomy) -> None:
    assert set(DEMO_GENRES) <= tax.genres
    pattern = re.compile(rf"(?:{GENRE_PATTERN})\Z")
    assert all(pattern.match(g) for g in tax.genres)
    assert tax.check_examples() == []
    assert len(tax.genres) > 100 and len(tax.roots) >= 15
    for common in ("pop", "metal", "blues", "classical", "country", "folk", "r&b", "soul", "funk",
                   "electronic", "trance", "dubstep", "punk", "indie rock", "latin", "k-pop", "disco", "gospel"):
        assert common in tax.genres, common


def test_tree_navigation_and_rollup(tax: Taxonomy) -> None:
    assert tax.parent("liquid funk") == "drum and bass"
    assert tax.parent("rock") is None
    assert tax.ancestors("liquid funk") == ["drum and bass", "electronic"]
    assert tax.depth("liquid funk") == 2
    assert tax.rollup("liquid funk", {"electronic", "drum and bass"}) == "drum and bass"
    assert tax.rollup("liquid funk", {"electronic", "rock"}) == "electronic"
    assert tax.rollup("rock", {"rock"}) == "rock"
    assert tax.rollup("jazz", {"rock", "electronic"}) is None
    assert "drum and bass" in tax.children("electronic")
    level0 = tax.at_level(0)
    assert "rock" in level0 and "alternative rock" not in level0
    with pytest.raises(KeyError, match="glorpcore"):
        tax.parent("glorpcore")


def test_rule_file_order_decides(tmp_path: Path) -> None:
    base = {"genres": {"rock": "", "metal": ""}}
    first = Taxonomy.from_data({**base, "rules": [{"pattern": r"\bmetal\b", "genre": "metal"},
                                                  {"pattern": r"\brock\b", "genre": "rock"}]})
    second = Taxonomy.from_data({**base, "rules": [{"pattern": r"\brock\b", "genre": "rock"},
                                                   {"pattern": r"\bmetal\b", "genre": "metal"}]})
    assert first.map("rock metal fusion") == "metal"
    assert second.map("rock metal fusion") == "rock"
    # an alias is consulted before any rule
    with_alias = Taxonomy.from_data({**base, "aliases": {"rock metal fusion": "rock"},
                                     "rules": [{"pattern": r"\bmetal\b", "genre": "metal"}]})
    assert with_alias.map("Rock-Metal Fusion") == "rock"


def test_own_taxonomy_from_env_json_and_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"genres": {"noise": None, "harsh noise": "noise"},
                                "aliases": {"HNW": "harsh noise"}}), encoding="utf-8")
    monkeypatch.setenv("GENRE_TAXONOMY", str(mine))
    from_env = load_taxonomy()
    assert from_env.genres == {"noise", "harsh noise"}
    assert from_env.map("hnw") == "harsh noise"
    assert from_env.map("rock") is None
    assert "rock" in load_taxonomy(DEFAULT_TAXONOMY).genres  # an explicit path wins over the env
