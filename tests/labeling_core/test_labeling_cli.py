"""End to end through the command line on a tiny data folder: good runs and refused inputs."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labeling.cli import COMMAND_MODULES, main
from labeling.taxonomy import load_taxonomy
from manifests.cliutil import build_parser
from manifests.io import read_table, write_table
from manifests.layout import Layout
from manifests.schema import CLAIMS, LABELS, TRAINING
from tests.fixtures.corpus import claim_row as claim

REPO = Path(__file__).resolve().parents[2]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_resolve_then_build(tiny_data: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tiny_data.root)
    assert main(["resolve", "--data", data, "-q"]) == 0
    out = capsys.readouterr().out
    assert "resolved 6 tracks from 8 claims" in out
    assert "ambiguous 1, dropped 1, ok 3, unlabeled 1" in out
    assert "'favorites' 1" in out and "'seen live' 1" in out
    tax = load_taxonomy()
    labels = {r["track_id"]: r for r in read_table(tiny_data.table_path("labels"), LABELS, known_genres=tax.genres)}
    assert labels["tr-nosplit"]["genres"] == {"drum and bass": 1.0}
    assert labels["tr-jazz"]["unmapped"] == ["seen live"]
    summary = json.loads((tiny_data.reports / "labels_summary.json").read_text(encoding="utf-8"))
    assert summary["status"]["ok"] == 3 and summary["trust"]["lastfm"] == 0.5

    assert main(["build", "--data", data, "-q"]) == 0
    assert "3 of 6 tracks kept" in capsys.readouterr().out
    assert len(read_table(tiny_data.table_path("training"), TRAINING, known_genres=tax.genres)) == 3


def test_options_change_the_labels(tiny_data: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tiny_data.root)
    assert main(["resolve", "--data", data, "-q", "--margin", "0", "--level", "0"]) == 0
    labels = {r["track_id"]: r for r in read_table(tiny_data.table_path("labels"), LABELS)}
    assert labels["tr-nosplit"]["genres"] == {"electronic": 1.0}
    assert labels["tr-rockmetal"]["status"] == "ok" and labels["tr-rockmetal"]["top_genre"] == "metal"
    assert main(["resolve", "--data", data, "-q", "--targets", "rock,jazz", "--source-weight", "playlist=0.5"]) == 0
    labels = {r["track_id"]: r for r in read_table(tiny_data.table_path("labels"), LABELS)}
    assert labels["tr-rockmetal"]["genres"] == {"rock": 1.0}
    assert labels["tr-nosplit"]["status"] == "unlabeled"


def test_own_taxonomy_via_option(tiny_data: Layout, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[genres]\nguitar = ""\nbeats = ""\n[aliases]\nrock = "guitar"\nmetal = "guitar"\n'
                    '"hip-hop" = "beats"\n', encoding="utf-8")
    assert main(["resolve", "--data", str(tiny_data.root), "-q", "--taxonomy", str(mine)]) == 0
    labels = {r["track_id"]: r for r in read_table(tiny_data.table_path("labels"), LABELS,
                                                   known_genres={"guitar", "beats"})}
    assert labels["tr-rockmetal"]["genres"] == {"guitar": 1.0} and labels["tr-rockmetal"]["status"] == "ok"
    assert labels["tr-jazz"]["status"] == "unlabeled"


def test_bad_inputs_fail_with_one_line_and_write_nothing(tiny_data: Layout, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tiny_data.root)
    labels_path = tiny_data.table_path("labels")

    write_table(tiny_data.table_path("claims"), CLAIMS, [claim("tr-rock", "playlist", "rock")])
    text = tiny_data.table_path("claims").read_text(encoding="utf-8").replace(",playlist,", ",spotify,")
    tiny_data.table_path("claims").write_text(text, encoding="utf-8")
    assert main(["resolve", "--data", data]) == 2
    assert "claims.csv" in (err := one_line_error(capsys)) and "'spotify' is not one of" in err
    assert not labels_path.exists()

    tiny_data.table_path("claims").unlink()
    assert main(["resolve", "--data", data]) == 2
    assert one_line_error(capsys) == f"error: {tiny_data.table_path('claims')} not found: run make labels first"

    assert main(["resolve", "--data", data, "--source-weight", "rym"]) == 2
    assert "expected SOURCE=WEIGHT" in one_line_error(capsys)
    bad_tax = tmp_path / "bad.toml"
    bad_tax.write_text('[genres]\nrock = "roll"\n', encoding="utf-8")
    assert main(["resolve", "--data", data, "--taxonomy", str(bad_tax)]) == 2
    assert "unknown parent 'roll'" in one_line_error(capsys)
    assert main(["build", "--data", data]) == 2
    assert one_line_error(capsys) == f"error: {labels_path} not found: run make labels first"
    assert not labels_path.exists() and not tiny_data.table_path("training").exists()


def test_bad_override_keeps_the_old_labels(tiny_data: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tiny_data.root)
    assert main(["resolve", "--data", data, "-q"]) == 0
    before = tiny_data.table_path("labels").read_bytes()
    tiny_data.overrides.write_text("track_id,action,value,note\ntr-rock,add_genre,glorpcore,\n", encoding="utf-8")
    assert main(["resolve", "--data", data, "-q"]) == 2
    assert "overrides.csv" in (err := one_line_error(capsys)) and "unknown genre 'glorpcore'" in err
    assert tiny_data.table_path("labels").read_bytes() == before


def test_missing_split_table_names_its_stage(tiny_data: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resolve", "--data", str(tiny_data.root), "-q"]) == 0
    tiny_data.table_path("splits").unlink()
    assert main(["build", "--data", str(tiny_data.root)]) == 2
    assert one_line_error(capsys) == f"error: {tiny_data.table_path('splits')} not found: run make split first"
    assert not tiny_data.table_path("training").exists()


def test_python_dash_m_entry_point(tiny_data: Layout) -> None:
    env = {**os.environ, "GENRE_DATA_DIR": str(tiny_data.root), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "labeling", "resolve"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "status: ambiguous 1, dropped 1, ok 3, unlabeled 1" in done.stdout
    assert tiny_data.table_path("labels").is_file()


@pytest.mark.parametrize("command", [["resolve"], ["build"], ["split"], ["audit", "--no-plots"]])
def test_empty_data_folder_names_the_missing_table(command: list[str], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Every command that reads tables says the reader's one line: which file, which command writes it."""
    layout = Layout.at(tmp_path / "data")
    assert main([*command, "--data", str(layout.root)]) == 2
    expected = f"error: {layout.table_path('tracks')} not found: run make collect"
    assert one_line_error(capsys).startswith(expected)


def test_audit_of_a_named_missing_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = Layout.at(tmp_path).table_path("labels")
    assert main(["audit", str(missing)]) == 2
    assert one_line_error(capsys) == f"error: {missing} not found: run make labels first"
    assert main(["audit", str(tmp_path / "notes.csv")]) == 2
    assert one_line_error(capsys) == f"error: {tmp_path / 'notes.csv'}: file not found"


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for sub in subs for child in dict.fromkeys(sub.choices.values()) for leaf in _leaf_parsers(child)]


def test_every_command_has_the_common_options() -> None:
    parser = build_parser("python -m labeling", "", COMMAND_MODULES)
    leaves = _leaf_parsers(parser)
    assert len(leaves) == 8  # split, audit, taxonomy map/check/tree, resolve, build, review
    for leaf in leaves:
        options = {o for a in leaf._actions for o in a.option_strings}
        assert {"--data", "-v", "-q", "--version"} <= options, leaf.prog


@pytest.mark.parametrize("flag", ["--no-audio-files", "--skip-audio-check"])
def test_build_without_audio_files(flag: str, tiny_data: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tiny_data.root)
    assert main(["resolve", "--data", data, "-q"]) == 0
    for wav in tiny_data.audio.glob("*.wav"):
        wav.unlink()
    assert main(["build", "--data", data, "-q"]) == 0
    assert "0 of 6 tracks kept" in capsys.readouterr().out
    assert main(["build", "--data", data, "-q", flag]) == 0
    captured = capsys.readouterr()
    assert "3 of 6 tracks kept" in captured.out
    deprecations = [line for line in captured.err.splitlines() if "deprecated" in line]
    assert deprecations == ([] if flag == "--no-audio-files" else
                            ["warning: --skip-audio-check is deprecated and will be removed; use --no-audio-files"])


@pytest.mark.parametrize("flag", ["--no-audio-files", "--no-files"])
def test_audit_without_audio_files(flag: str, tiny_data: Layout, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tiny_data.root)
    assert main(["resolve", "--data", data, "-q"]) == 0
    for wav in tiny_data.audio.glob("*.wav"):
        wav.unlink()
    assert main(["audit", "--data", data, "--no-plots"]) == 0
    assert "audio_file_missing" in capsys.readouterr().out
    assert main(["audit", "--data", data, "--no-plots", flag]) == 0
    captured = capsys.readouterr()
    assert "audio_file_missing" not in captured.out
    report = (tiny_data.reports / "audit" / "report.md").read_text(encoding="utf-8")
    assert "skipped: --no-audio-files" in report
    deprecations = [line for line in captured.err.splitlines() if "deprecated" in line]
    assert deprecations == ([] if flag == "--no-audio-files" else
                            ["warning: --no-files is deprecated and will be removed; use --no-audio-files"])


@pytest.mark.parametrize("old, new", [
    (["--min-score", "0.8"], ["--warn-match-score", "0.8"]),
    (["--duration-tolerance", "0.2"], ["--duration-tolerance-fraction", "0.2"]),
    (["--trim-seconds", "30"], ["--clip-seconds", "30"]),
])
def test_old_audit_flag_names_still_work_with_one_deprecation_line(
        old: list[str], new: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser("python -m labeling", "", COMMAND_MODULES)
    command = ["audit", "--data", "somewhere"]
    assert vars(parser.parse_args(command + old)) == vars(parser.parse_args(command + new))
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {old[0]} is deprecated and will be removed; use {new[0]}"]
