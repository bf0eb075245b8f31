"""The two public datasets: FMA's metadata pair (two header rows) and a GTZAN-shaped folder with its faults."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from collectors.cli import main as collectors_main
from collectors.local import gtzan
from collectors.local.fma import read_fma
from manifests import Layout, read_table, sha256_file
from manifests.errors import UserError
from manifests.ids import UNKNOWN_ARTIST, make_track_id
from manifests.schema import CLAIMS, DOWNLOADS, TRACKS
from tests.local import media

LICENCE = "Attribution-NonCommercial-ShareAlike 3.0 International"


def _tid(path: Path) -> str:
    return make_track_id("local", sha256_file(path))


def _fma_metadata(folder: Path) -> Path:
    """tracks.csv as FMA writes it: entity row, field row, a "track_id" row, then one row per track."""
    folder.mkdir(parents=True)
    rows = [
        ["", "album", "album", "artist", "artist", "set", "set", "track", "track", "track", "track", "track"],
        ["", "title", "date_released", "bio", "name", "split", "subset", "genre_top", "genres", "genres_all",
         "license", "title"],
        ["track_id"] + [""] * 11,
        ["2", "AWOL - A Way Of Life", "2009-01-05 00:00:00", "<p>" + "long bio " * 20000 + "</p>", "AWOL",
         "training", "small", "Hip-Hop", "[21]", "[21]", LICENCE, "Food"],
        ["5", "Loud", "", "", "The Shouters", "test", "small", "Rock", "[25]", "[12, 25]", LICENCE, "Noise"],
        ["10", "", "2008-02-06 00:00:00", "", "Unknown Artist", "validation", "small", "", "[10, 21]",
         "[10, 21]", "", "Mixed"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (folder / "tracks.csv").write_text(buffer.getvalue(), encoding="utf-8")
    (folder / "genres.csv").write_text("genre_id,#tracks,parent,title,top_level\n10,13845,0,Pop,10\n"
                                       "12,32923,0,Rock,12\n21,8389,0,Hip-Hop,21\n25,9261,12,Punk,12\n",
                                       encoding="utf-8")
    return folder


def test_fma_metadata_pair(tmp_path: Path) -> None:
    meta = _fma_metadata(tmp_path / "fma_metadata")
    fma = read_fma(meta)
    assert sorted(fma.tracks) == [2, 5, 10]
    assert fma.tracks[2].title == "Food" and fma.tracks[2].artist == "AWOL" and fma.tracks[2].date == "2009-01-05"
    assert (fma.tracks[5].genre_top, fma.tracks[5].genres, fma.tracks[5].parents) == ("Rock", ("Punk",), ("Rock",))
    assert fma.tracks[10].artist is None and fma.tracks[10].genres == ("Pop", "Hip-Hop")

    audio = tmp_path / "fma_small"
    files = {n: media.tone(audio / "000" / f"{n:06d}.mp3", freq=400 + n) for n in (2, 5, 10, 99)}
    data = tmp_path / "data"
    assert collectors_main(["import-audio", str(audio), "--fma-metadata", str(meta), "--data", str(data),
                            "--min-seconds", "1", "--workers", "1", "-q"]) == 0
    layout = Layout.at(data)
    tracks = {r["track_id"]: r for r in read_table(layout.table_path(TRACKS), TRACKS)}
    claims = read_table(layout.table_path(CLAIMS), CLAIMS)
    downloads = {r["track_id"]: r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS)}
    awol = tracks[_tid(files[2])]
    assert (awol["title"], awol["artists"], awol["album"], awol["release_date"]) == (
        "Food", ["AWOL"], "AWOL - A Way Of Life", "2009-01-05")
    got = {(c["track_id"], c["raw_genre"], c["weight"]) for c in claims if c["source"] == "fma"}
    assert got == {(_tid(files[2]), "Hip-Hop", 1.0), (_tid(files[5]), "Rock", 1.0), (_tid(files[5]), "Punk", 1.0),
                   (_tid(files[10]), "Pop", 1.0), (_tid(files[10]), "Hip-Hop", 1.0)}
    detail = next(c["detail"] for c in claims if c["track_id"] == _tid(files[2]))
    assert LICENCE in detail  # the licence each track was shared under travels with its claims
    assert tracks[_tid(files[10])]["artists"] == [UNKNOWN_ARTIST]
    assert tracks[_tid(files[99])]["title"] == "000099"  # no metadata row: the file name
    assert all(r["status"] == "ok" for r in downloads.values())


def test_fma_metadata_that_is_not(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="tracks.csv not found"):
        read_fma(tmp_path)
    (tmp_path / "tracks.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "genres.csv").write_text("genre_id,#tracks,parent,title,top_level\n", encoding="utf-8")
    with pytest.raises(UserError, match="not FMA's tracks.csv"):
        read_fma(tmp_path)


def test_the_faulty_excerpt_list_is_shipped_with_its_citation() -> None:
    text = gtzan.FAULTS_FILE.read_text(encoding="utf-8")
    assert "Sturm" in text and "arXiv:1306.1461" in text and "NOT a transcription" in text
    faults = gtzan.faulty_excerpts()
    assert len(faults) == 70
    assert {name.split(".")[0] for name in faults} <= set(gtzan.GENRES)
    assert "jazz.00033" in faults and "blues.00000" not in faults


def test_gtzan_folder_with_and_without_its_faults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    genres = tmp_path / "genres"
    names = ["blues.00000", "blues.00001", "jazz.00033", "jazz.00000", "pop.00015", "pop.00000"]
    for i, name in enumerate(names):
        ext = "au" if i % 2 else "wav"
        media.tone(genres / name.split(".")[0] / f"{name}.{ext}", freq=300 + 37 * i)
    flat = media.tone(tmp_path / "flat" / "rock.00007.wav", freq=900)  # the label is in the name
    data = tmp_path / "data"

    def run(*extra: str) -> str:
        assert collectors_main(["import-audio", str(genres), str(flat), "--gtzan", "--data", str(data),
                                "--min-seconds", "1", "--workers", "1", "-q", *extra]) == 0
        return capsys.readouterr().out

    run()
    layout = Layout.at(data)
    tracks = read_table(layout.table_path(TRACKS), TRACKS)
    assert len(tracks) == 7 and {tuple(t["artists"]) for t in tracks} == {(UNKNOWN_ARTIST,)}
    claims = read_table(layout.table_path(CLAIMS), CLAIMS)
    label = {c["track_id"]: c["raw_genre"] for c in claims if c["source"] == "folder"}
    assert label[_tid(flat)] == "rock" and label[_tid(genres / "pop" / "pop.00015.wav")] == "pop"
    assert {t["title"] for t in tracks} >= {"blues.00000", "rock.00007"}

    out = run("--drop-gtzan-faults")  # a rerun that drops the faults removes them
    tracks = read_table(layout.table_path(TRACKS), TRACKS)
    assert {t["title"] for t in tracks} == {"blues.00000", "blues.00001", "jazz.00000", "pop.00000", "rock.00007"}
    assert "excluded 2 known faulty GTZAN excerpts" in out and "Sturm" in out and "removed 2 tracks" in out
    assert len(list((data / "audio").glob("*.wav"))) == 5
    downloads = read_table(layout.table_path(DOWNLOADS), DOWNLOADS)
    assert len(downloads) == 5
