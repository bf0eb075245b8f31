"""Reading refuses bad manifests with one line naming file, row, column and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifests import TABLES, ManifestError, read_table, write_table
from manifests.cli import main as manifests_main

HEADER = "track_id,genres,top_genre,sources,n_sources,unmapped,status,reason,schema"
GOOD = "t001abc,rock=0.75; metal=0.25,rock,rock=playlist; metal=playlist,1,,ok,,labels@1"
GENRES = {"rock", "metal", "jazz"}


def _write(tmp_path: Path, *lines: str, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _error(path: Path, table: str = "labels") -> ManifestError:
    with pytest.raises(ManifestError) as info:
        read_table(path, TABLES[table], known_genres=GENRES)
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    assert str(path) in message, "errors name the file"
    return info.value


def test_good_file_reads(tmp_path: Path) -> None:
    rows = read_table(_write(tmp_path, HEADER, GOOD), TABLES["labels"], known_genres=GENRES)
    assert rows[0]["genres"] == {"rock": 0.75, "metal": 0.25}
    assert rows[0]["sources"] == {"rock": ["playlist"], "metal": ["playlist"]}
    assert rows[0]["unmapped"] == []


def test_unknown_column(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER + ",mood", GOOD + ",happy"))
    assert err.column == "mood" and "unknown column" in err.problem and err.line == 1


def test_missing_required_column(tmp_path: Path) -> None:
    header = HEADER.replace("status,", "")
    row = GOOD.replace(",ok,", ",")
    err = _error(_write(tmp_path, header, row))
    assert err.column == "status" and "required column" in err.problem


def test_missing_required_value(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER, GOOD, GOOD.replace("t001abc", "t002abc").replace(",ok,", ",,")))
    assert (err.row, err.column) == (2, "status") and "required value is missing" in err.problem
    assert "row 2, column 'status'" in str(err)


def test_bad_type(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER, GOOD.replace(",1,", ",one,")))
    assert err.column == "n_sources" and "not a whole number" in err.problem


def test_value_not_allowed(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER, GOOD.replace(",ok,", ",fine,")))
    assert err.column == "status" and "'fine' is not one of" in err.problem


def test_duplicate_key(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER, GOOD, GOOD))
    assert err.row == 2 and "duplicate key track_id='t001abc' (first at row 1)" in err.problem


def test_unknown_genre(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER, GOOD.replace("rock=0.75", "rokc=0.75")))
    assert err.column == "genres" and "unknown genre 'rokc'" in err.problem


def test_bad_weight(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER, GOOD.replace("rock=0.75", "rock=1.5")))
    assert err.column == "genres" and "1.5 is above 1" in err.problem


def test_bad_pattern(tmp_path: Path) -> None:
    header = "track_id,title,artists,album,release_date,duration_ms,isrc,spotify_id,spotify_uri,playlists,origin,schema"
    row = "t001abc,Song,A,,2020-01-01,1000,not-an-isrc,,,,csv,tracks@1"
    err = _error(_write(tmp_path, header, row, name="tracks.csv"), table="tracks")
    assert err.column == "isrc" and "does not look like a valid isrc" in err.problem


def test_old_schema_version_is_detected(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER, GOOD.replace("labels@1", "labels@0")))
    assert err.column == "schema" and "written as labels@0" in err.problem and "rerun" in err.problem


def test_wrong_table_is_detected(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "genre,playlist", "rock,37i9dQZF1DWXRqgorJj26U"))
    assert "not a labels@1 manifest" in err.problem


def test_wrong_cell_count(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, HEADER, GOOD + ",extra"))
    assert err.row == 1 and "10 cells but the header has 9" in err.problem


def test_line_numbers_follow_multiline_cells(tmp_path: Path) -> None:
    """A title with a newline spans two physical lines; the error line must still be right."""
    header = "track_id,title,artists,album,release_date,duration_ms,isrc,spotify_id,spotify_uri,playlists,origin,schema"
    first = 't001abc,"two\nlines",A,,,1000,,,,,csv,tracks@1'
    second = "t002abc,Song,A,,,minus,,,,,csv,tracks@1"
    err = _error(_write(tmp_path, header, first, second, name="tracks.csv"), table="tracks")
    assert (err.line, err.row, err.column) == (4, 2, "duration_ms")


def test_missing_file_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"labels.csv not found: run make labels first$"):
        read_table(tmp_path / "labels.csv", TABLES["labels"])


def test_writing_invalid_rows_keeps_the_old_file(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER, GOOD)
    before = path.read_bytes()
    bad = {"track_id": "t009abc", "genres": {"rock": 2.0}, "status": "ok"}
    with pytest.raises(ManifestError, match="row 1, column 'genres': 2 is above 1"):
        write_table(path, TABLES["labels"], [bad])
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path], "no temporary file is left behind"


def test_validate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "manifests").mkdir()
    _write(tmp_path / "manifests", HEADER, GOOD)
    assert manifests_main(["validate", "--data", str(tmp_path)]) == 0
    assert "ok" in capsys.readouterr().out
    _write(tmp_path / "manifests", HEADER, GOOD, GOOD)
    assert manifests_main(["validate", "--data", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "duplicate key" in captured.out and captured.err.startswith("error: 1 of 1 manifests failed")


def test_readme_is_generated_from_the_schemas() -> None:
    assert manifests_main(["docs", "--check"]) == 0
