"""render's whole-column fast path writes exactly what its row-by-row path writes, or fails alike.

The fast path (``_encoded_rows``) sorts on the key strings, encodes whole columns at once and
formats each distinct number once; the row-by-row path is the reference. Rows here mix valid
values with every kind of trouble: empty and missing cells, separators and backslashes to escape,
carriage returns, non-ASCII text, subclasses, ints and bools among floats, -0.0, NaN and
infinities, duplicate and missing keys, unknown columns.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifests import io as manifest_io
from manifests.io import ManifestError, render
from manifests.schema import LABELS, SPLITS_TABLE, TRAINING, Table


class _Str(str):
    """A str subclass: the fast path treats it as unusual and must still write the same text."""


class _Int(int):
    def __str__(self) -> str:
        return "not the number"


def _slow(table: Table, rows: list[dict[str, Any]], known_genres: frozenset[str] | None) -> str:
    """render with the fast path refusing every table and rows sorted by their key tuples: the reference."""
    def refuse(*_: object) -> list[tuple[str, ...]]:
        raise manifest_io._Doubt

    def copied_and_sorted(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted((dict(r) for r in rows), key=lambda r: manifest_io._sort_key(table, r))

    originals = manifest_io._encoded_rows, manifest_io._sorted_rows
    manifest_io._encoded_rows, manifest_io._sorted_rows = refuse, copied_and_sorted  # type: ignore[assignment]
    try:
        return render(table, rows, known_genres=known_genres)
    finally:
        manifest_io._encoded_rows, manifest_io._sorted_rows = originals


def _outcome(call: Any) -> tuple[str, str]:
    try:
        return "text", call()
    except (ManifestError, TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)


def _same_as_reference(table: Table, rows: list[dict[str, Any]], known_genres: frozenset[str] | None = None) -> None:
    fast = _outcome(lambda: render(table, rows, known_genres=known_genres))
    slow = _outcome(lambda: _slow(table, rows, known_genres))
    assert fast == slow


_TEXT = st.sampled_from(["rock", "hip hop", "Björk", "a;b", "a=b", "a,b", "back\\slash", "cr\rhere", "crlf\r\n",
                         "line\nbreak", " space ", "", "坂本龍一", 'quote"d']) | st.text(max_size=6)
_TRACK_IDS = st.sampled_from(["t001", "t002", "t003", "t010", "t0000001", "abc-def", "T001", "", "t;1"])
_GENRES = st.sampled_from(["rock", "hip hop", "jazz", "blues", "unknown genre", "a;b", "", "x=y", "back\\s"])
_WEIGHTS = (st.sampled_from([0.5, 1.0, 0.0, -0.0, 0.1234, 0.12345, 1, 0, True, 2.0, -0.5, math.nan, math.inf, 1e-9,
                             0.9995, 0.33333])
            | st.floats(min_value=0, max_value=1))
_FLOATS = st.sampled_from([0.5, 0.0, -0.0, 1, 3, True, math.nan, -math.inf, 1e-12, 0.1005, None, "0.5"]) | st.floats()


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, st.none(), st.just(_Str("rock")), st.just([]), st.just({}))


def _training_row() -> st.SearchStrategy[dict[str, Any]]:
    valid_list = st.lists(st.sampled_from(["Artist 1", "Björk", "AC/DC", "Simon & Garfunkel"]), min_size=1, max_size=3)
    odd_list = st.lists(_TEXT | st.just(_Str("x")) | st.just(3), max_size=3)
    valid_map = st.dictionaries(st.sampled_from(["rock", "hip hop", "jazz"]), _WEIGHTS.filter(
        lambda w: isinstance(w, float) and math.isfinite(w) and 0 <= w <= 1), min_size=1, max_size=3)
    odd_map = st.dictionaries(_GENRES, _WEIGHTS, max_size=3)
    return st.fixed_dictionaries({
        "track_id": _TRACK_IDS,
        "title": st.one_of(_TEXT, st.just("Song")),
        "artists": st.one_of(valid_list, valid_list, odd_list, st.none(), st.just("Artist")),
        "isrc": st.sampled_from(["QZA000000001", None, "", "bad isrc", _Str("QZA000000002")]),
        "genres": st.one_of(valid_map, valid_map, odd_map, st.none()),
        "top_genre": st.sampled_from(["rock", "jazz", None, "", "not a genre"]),
        "split": st.sampled_from(["train", "validation", "test", "train", "nope", None]),
        "audio_path": st.sampled_from(["audio/t001.wav", "audio/x y.wav", "/abs.wav", "../out.wav", "a\\b.wav",
                                       "audio/é.wav", None]),
        "sample_rate": st.sampled_from([16000, 22050, 0, -1, True, 16000.0, 16000.5, _Int(5), None, "16000"]),
        "audio_duration_s": _FLOATS,
        "sha256": st.sampled_from(["a" * 64, "0" * 64, None, "short"]),
        "youtube_id": st.sampled_from(["abcdefghijk", None, "short"]),
        "match_score": _FLOATS,
    }, optional={"extra": st.just(1), "schema": st.just("training@1")})


def _splits_row() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        "track_id": _TRACK_IDS | st.just(None) | st.just(["t", "001"]),
        "split": st.sampled_from(["train", "validation", "test"]),
        "group": _maybe(_TEXT),
        "seed": st.sampled_from([42, 0, -7, True, 4.0, 4.5, _Int(3), None]),
    })


def _labels_row() -> st.SearchStrategy[dict[str, Any]]:
    sources = st.dictionaries(_GENRES, st.lists(st.sampled_from(["playlist", "lastfm", "a,b", "", "x;y"]),
                                                max_size=2), max_size=2)
    return st.fixed_dictionaries({
        "track_id": _TRACK_IDS,
        "genres": st.dictionaries(_GENRES, _WEIGHTS, max_size=3),
        "top_genre": st.sampled_from(["rock", None]),
        "sources": sources,
        "n_sources": st.sampled_from([0, 1, 3, True, None]),
        "unmapped": st.lists(_TEXT, max_size=2),
        "status": st.sampled_from(["ok", "ambiguous", "unlabeled", "dropped", "bad"]),
        "reason": _maybe(_TEXT),
    })


_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.lists(_training_row(), max_size=6), st.sampled_from([None, frozenset({"rock", "hip hop", "jazz"})]))
def test_training_rows_render_as_the_row_by_row_path(rows: list[dict[str, Any]], genres: frozenset[str] | None) -> None:
    _same_as_reference(TRAINING, rows, genres)


@_SETTINGS
@given(st.lists(_splits_row(), max_size=8))
def test_splits_rows_render_as_the_row_by_row_path(rows: list[dict[str, Any]]) -> None:
    _same_as_reference(SPLITS_TABLE, rows)


@_SETTINGS
@given(st.lists(_labels_row(), max_size=5))
def test_labels_rows_render_as_the_row_by_row_path(rows: list[dict[str, Any]]) -> None:
    _same_as_reference(LABELS, rows)


def _valid_training(i: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "track_id": f"t{i:07d}", "title": f"Song {i}", "artists": ["Artist 1", "Björk"], "isrc": "QZA000000001",
        "genres": {"rock": 0.75, "hip hop": 0.25}, "top_genre": "rock", "split": "train",
        "audio_path": f"audio/t{i:07d}.wav", "sample_rate": 16000, "audio_duration_s": 30.0, "sha256": "a" * 64,
        "youtube_id": "abcdefghijk", "match_score": 0.9}
    row.update(changes)
    return row


@pytest.mark.parametrize("changes", [
    {},
    {"genres": {"rock": 1, "jazz": 0.0}},                      # an int weight and a zero
    {"genres": {"rock": -0.0}},                                 # negative zero writes as 0
    {"genres": {"rock": 0.33333, "jazz": 0.33334}},             # equal once rounded
    {"genres": {"rock": math.nan}},                             # not finite: refused with its row
    {"genres": {"a;b": 0.5}},                                   # a key to escape
    {"artists": ["AC;DC"]}, {"artists": ["back\\slash"]}, {"artists": [""]}, {"artists": []},
    {"artists": [_Str("Subclass")]},
    {"audio_duration_s": -0.0}, {"audio_duration_s": 1}, {"audio_duration_s": math.inf}, {"match_score": None},
    {"match_score": math.nan}, {"sample_rate": True}, {"sample_rate": _Int(7)}, {"sample_rate": 2.0},
    {"title": "cr\rin title"}, {"title": ""}, {"title": None}, {"track_id": "t0000001"},  # a duplicate of row 1
])
def test_one_unusual_row_among_plain_ones(changes: dict[str, Any]) -> None:
    rows = [_valid_training(i) for i in range(5, 0, -1)] + [_valid_training(0, **changes)]
    _same_as_reference(TRAINING, rows, frozenset({"rock", "hip hop", "jazz", "a;b"}))


def test_plain_rows_take_the_fast_path_and_sort_by_key() -> None:
    rows = [_valid_training(i) for i in (3, 1, 2)]
    assert manifest_io._encoded_rows(TRAINING, manifest_io._sorted_rows(TRAINING, rows), None)[0][0] == "t0000001"
    text = render(TRAINING, rows)
    assert text == _slow(TRAINING, rows, None)
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == ["t0000001", "t0000002", "t0000003"]
