"""Resolution: worked examples with their numbers, multi-genre, trust, roll-up, overrides, views."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.resolve import (
    combine_claims,
    label_row,
    load_source_weights,
    multi_label,
    parse_source_weights,
    parse_targets,
    resolve_labels,
    single_label,
)
from labeling.taxonomy import DEFAULT_TAXONOMY, Taxonomy, load_taxonomy
from manifests.errors import UserError
from manifests.io import write_table
from manifests.overrides import Overrides
from manifests.schema import CLAIM_SOURCES, OVERRIDES
from tests.fixtures.corpus import claim_row as claim
from tests.fixtures.corpus import track_row as track


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return load_taxonomy(DEFAULT_TAXONOMY)


@pytest.fixture()
def trust() -> dict[str, float]:
    return load_source_weights()


#: The worked example of labeling/README.md.
WORKED = [
    claim("t1", "playlist", "Jazz"),
    claim("t1", "rym", "Rock", 1.0), claim("t1", "rym", "Soul", 0.5),
    claim("t1", "musicbrainz", "rock", 0.8), claim("t1", "musicbrainz", "jazz", 0.2),
    claim("t1", "lastfm", "jazz", 1.0), claim("t1", "lastfm", "rock", 0.5), claim("t1", "lastfm", "seen live", 0.9),
]


def test_default_trust_covers_every_source(trust: dict[str, float]) -> None:
    assert set(trust) == set(CLAIM_SOURCES)
    assert trust["playlist"] == 1.0 and trust["lastfm"] < trust["rym"]


def test_worked_example_numbers(tax: Taxonomy, trust: dict[str, float]) -> None:
    res = combine_claims(WORKED, tax, trust)
    # total trust 1 + 0.9 + 0.7 + 0.5 = 3.1
    # rock = (0.9*1 + 0.7*1 + 0.5*0.5) / 3.1 = 0.597; jazz = (1*1 + 0.7*0.25 + 0.5*1) / 3.1 = 0.540
    # soul = 0.9*0.5 / 3.1 = 0.145
    assert res.genres == {"rock": 0.597, "jazz": 0.54, "soul": 0.145}
    assert list(res.genres) == ["rock", "jazz", "soul"]  # strongest first
    assert res.sources == {"rock": ["lastfm", "musicbrainz", "rym"], "jazz": ["lastfm", "musicbrainz", "playlist"],
                           "soul": ["rym"]}
    assert res.unmapped == ["seen live"]
    row = label_row("t1", res, margin=0.1)
    assert (row["status"], row["top_genre"], row["n_sources"]) == ("ambiguous", None, 4)
    assert row["reason"] == "rock 0.597 vs jazz 0.54: closer than the margin 0.1"
    assert multi_label(res.genres, 0.5) == ["rock", "jazz"]


def test_source_trust_changes_the_result(tax: Taxonomy, trust: dict[str, float]) -> None:
    no_lastfm = combine_claims(WORKED, tax, {**trust, **parse_source_weights(["lastfm=0"])})
    # total 2.6: rock 1.6/2.6, jazz 1.175/2.6, soul 0.45/2.6; lastfm no longer counts at all
    assert no_lastfm.genres == {"rock": 0.615, "jazz": 0.452, "soul": 0.173}
    assert single_label(no_lastfm.genres, 0.1) == "rock"
    assert "lastfm" not in no_lastfm.contributors
    playlists_first = combine_claims(WORKED, tax, {**trust, "playlist": 3.0})
    # total 5.1: jazz (3 + 0.175 + 0.5)/5.1 = 0.721, rock 1.85/5.1 = 0.363
    assert playlists_first.genres["jazz"] == 0.721 and playlists_first.genres["rock"] == 0.363
    assert single_label(playlists_first.genres, 0.1) == "jazz"


def test_two_playlists_make_a_multi_genre_track(tax: Taxonomy, trust: dict[str, float]) -> None:
    res = combine_claims([claim("t", "playlist", "Rock", evidence="a"), claim("t", "playlist", "Metal", evidence="b")],
                         tax, trust)
    assert res.genres == {"metal": 1.0, "rock": 1.0}
    assert multi_label(res.genres, 0.5) == ["metal", "rock"]
    row = label_row("t", res, margin=0.1)
    assert row["status"] == "ambiguous" and row["top_genre"] is None
    assert row["sources"] == {"metal": ["playlist"], "rock": ["playlist"]}


def test_agreement_raises_the_weight(tax: Taxonomy, trust: dict[str, float]) -> None:
    alone = combine_claims([claim("t", "playlist", "rock"), claim("t", "rym", "jazz")], tax, trust)
    agreed = combine_claims([claim("t", "playlist", "rock"), claim("t", "rym", "jazz"), claim("t", "rym", "rock", 0.5)],
                            tax, trust)
    assert alone.genres["rock"] == pytest.approx(1 / 1.9, abs=1e-3)
    assert agreed.genres["rock"] == pytest.approx((1 + 0.9 * 0.5) / 1.9, abs=1e-3)
    assert agreed.genres["rock"] > alone.genres["rock"]


def test_synonyms_of_one_source_do_not_add_up(tax: Taxonomy, trust: dict[str, float]) -> None:
    res = combine_claims([claim("t", "lastfm", "hip-hop", 1.0), claim("t", "lastfm", "rap", 0.8),
                          claim("t", "lastfm", "Hip Hop", 0.7), claim("t", "lastfm", "jazz", 0.4)], tax, trust)
    assert res.genres == {"hip hop": 1.0, "jazz": 0.4}


def test_untrusted_or_zero_weight_claims_are_ignored(tax: Taxonomy, trust: dict[str, float]) -> None:
    res = combine_claims([claim("t", "lastfm", "rock", 0.0), claim("t", "playlist", "jazz")], tax, trust)
    assert res.genres == {"jazz": 1.0} and res.contributors == ["playlist"]
    row = label_row("t", combine_claims([claim("t", "lastfm", "rock")], tax, {**trust, "lastfm": 0.0}))
    assert row["status"] == "unlabeled" and "trust 0" in row["reason"]


def test_rollup_to_targets_and_levels(tax: Taxonomy, trust: dict[str, float]) -> None:
    claims = [claim("t", "lastfm", "liquid dnb", 1.0), claim("t", "lastfm", "deep house", 0.5),
              claim("t", "lastfm", "jazz", 0.5)]
    plain = combine_claims(claims, tax, trust)
    assert plain.genres == {"liquid funk": 1.0, "deep house": 0.5, "jazz": 0.5}
    electronic = parse_targets(tax, "Electronic, rock")
    rolled = combine_claims(claims, tax, trust, electronic)
    assert rolled.genres == {"electronic": 1.0}
    assert rolled.outside_targets == ["jazz"]
    top = combine_claims(claims, tax, trust, parse_targets(tax, level=0))
    assert top.genres == {"electronic": 1.0, "jazz": 0.5}
    mid = combine_claims(claims, tax, trust, parse_targets(tax, "drum and bass, house, jazz"))
    assert mid.genres == {"drum and bass": 1.0, "house": 0.5, "jazz": 0.5}
    outside = label_row("t", combine_claims([claim("t", "playlist", "jazz")], tax, trust, electronic))
    assert outside["status"] == "unlabeled" and "outside the targets (jazz)" in outside["reason"]


def test_targets_are_checked(tax: Taxonomy) -> None:
    assert parse_targets(tax, "Hip-Hop,rock") == {"hip hop", "rock"}
    assert parse_targets(tax) is None
    with pytest.raises(UserError, match="'glorpcore' is not a genre"):
        parse_targets(tax, "rock,glorpcore")
    with pytest.raises(UserError, match="one or the other"):
        parse_targets(tax, "rock", 0)


@pytest.mark.parametrize(("items", "problem"), [
    (["rym"], "expected SOURCE=WEIGHT"), (["rym=high"], "'high' is not a number"),
    (["spotify=1"], "unknown source 'spotify'"), (["rym=-1"], "must be a number >= 0"),
    (["rym=nan"], "must be a number >= 0"),
])
def test_bad_source_weight_options(items: list[str], problem: str) -> None:
    with pytest.raises(UserError, match=problem):
        parse_source_weights(items)


def test_bad_source_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text('{"weights": {"playlist": 1}}', encoding="utf-8")
    with pytest.raises(UserError, match="no trust given for musicbrainz"):
        load_source_weights(path)


def test_single_and_multi_label_views() -> None:
    assert single_label({}, 0.1) is None
    assert single_label({"rock": 0.4}, 0.1) == "rock"
    assert single_label({"rock": 1.0, "metal": 0.9}, 0.1) == "rock"  # exactly the margin apart: not closer
    assert single_label({"rock": 1.0, "metal": 0.91}, 0.1) is None
    assert single_label({"rock": 1.0, "metal": 1.0}, 0.0) == "metal"  # margin 0: ties broken by name
    assert multi_label({"rock": 0.9, "jazz": 0.5, "soul": 0.49}, 0.5) == ["rock", "jazz"]
    assert multi_label({"rock": 0.9, "jazz": 0.5}, 0.95) == []


def test_overrides_are_honoured(tmp_path: Path, tax: Taxonomy, trust: dict[str, float]) -> None:
    path = tmp_path / "overrides.csv"
    write_table(path, OVERRIDES, [
        {"track_id": "t-drop", "action": "drop", "note": "a podcast"},
        {"track_id": "t-set", "action": "set_genres", "value": "blues=1; rock=0.5"},
        {"track_id": "t-add", "action": "add_genre", "value": "soul"},
        {"track_id": "t-rm", "action": "remove_genre", "value": "metal"},
        {"track_id": "t-rmall", "action": "remove_genre", "value": "rock"},
    ])
    overrides = Overrides.load(path, tax.genres)
    tracks = [track(t) for t in ("t-drop", "t-set", "t-add", "t-rm", "t-rmall")]
    claims = [claim("t-drop", "playlist", "rock"), claim("t-set", "playlist", "jazz"),
              claim("t-add", "playlist", "funk"), claim("t-rm", "playlist", "rock", evidence="a"),
              claim("t-rm", "playlist", "metal", evidence="b"), claim("t-rmall", "playlist", "rock")]
    rows, summary = resolve_labels(tracks, claims, tax, trust, overrides=overrides)
    by_id = {r["track_id"]: r for r in rows}
    assert by_id["t-drop"]["status"] == "dropped" and by_id["t-drop"]["reason"] == "dropped by override: a podcast"
    assert by_id["t-drop"]["top_genre"] is None
    assert by_id["t-set"]["genres"] == {"blues": 1.0, "rock": 0.5}
    assert by_id["t-set"]["sources"] == {"blues": ["manual"], "rock": ["manual"]}
    assert by_id["t-set"]["top_genre"] == "blues" and by_id["t-set"]["n_sources"] == 1
    assert by_id["t-add"]["genres"] == {"funk": 1.0, "soul": 1.0}
    assert by_id["t-add"]["sources"] == {"funk": ["playlist"], "soul": ["manual"]}
    assert by_id["t-add"]["status"] == "ambiguous"
    assert by_id["t-rm"]["genres"] == {"rock": 1.0} and by_id["t-rm"]["status"] == "ok"
    assert by_id["t-rmall"]["status"] == "unlabeled" and by_id["t-rmall"]["reason"] == "overrides removed every genre"
    assert summary.status == {"dropped": 1, "ok": 2, "ambiguous": 1, "unlabeled": 1}


def test_summary_counts_unmapped_and_orphans(tax: Taxonomy, trust: dict[str, float]) -> None:
    tracks = [track("a1"), track("a2"), track("a3")]
    claims = [claim("a1", "lastfm", "seen live"), claim("a2", "lastfm", "seen live"), claim("a2", "playlist", "rock"),
              claim("zz", "playlist", "rock")]
    rows, summary = resolve_labels(tracks, claims, tax, trust)
    assert [r["status"] for r in rows] == ["unlabeled", "ok", "unlabeled"]
    assert rows[0]["reason"] == "no claim mapped by the taxonomy (unmapped: seen live)"
    assert rows[2]["reason"] == "no genre claims for this track"
    assert rows[1]["unmapped"] == ["seen live"]
    assert summary.unmapped == {"seen live": 2} and summary.orphan_claims == 1
    text = summary.format()
    assert "'seen live' 2" in text and "unlabeled 2" in text and "top genre: rock 1" in text
    with pytest.raises(UserError, match="--margin"):
        resolve_labels(tracks, claims, tax, trust, margin=1.5)
