"""The chaos benchmark's harness: it finds what a kill leaves behind, and it runs a real stage end to end."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from manifests import Layout
from tests.bench.chaos import (
    Stage,
    check_folder,
    compare_references,
    compare_with_reference,
    goal_met,
    run_bench,
    run_stage,
    table,
)


def _copy(layout: Layout, dst: Path) -> Path:
    shutil.copytree(layout.root, dst)
    return dst


def test_check_folder_finds_truncated_tables_broken_audio_and_temp_files(tiny_data: Layout, tmp_path: Path) -> None:
    root = _copy(tiny_data, tmp_path / "copy")
    assert check_folder(root).corrupt == [] and check_folder(root).stray == []
    claims = root / "manifests" / "claims.csv"
    claims.write_bytes(claims.read_bytes()[: claims.stat().st_size * 2 // 3])  # killed mid-write, in place
    wav = next((root / "audio").glob("*.wav"))
    wav.write_bytes(wav.read_bytes()[:60])  # the header promises samples that are not there
    (root / "reports").mkdir(exist_ok=True)
    (root / "reports" / "summary.json").write_text('{"tracks": 6, "gen', encoding="utf-8")
    (root / "manifests" / ".tracks.csv.tmp-x8k2j1").write_text("track_id\n", encoding="utf-8")
    (root / "audio" / "tr-rock.wav.part").write_bytes(b"RIFF")

    found = check_folder(root)
    assert sorted(c.split(":", 1)[0] for c in found.corrupt) == sorted(
        ["manifests/claims.csv", f"audio/{wav.name}", "reports/summary.json"])
    assert sorted(found.stray) == ["audio/tr-rock.wav.part", "manifests/.tracks.csv.tmp-x8k2j1"]


def test_comparison_leaves_out_only_what_two_clean_runs_disagree_on(tiny_data: Layout, tmp_path: Path) -> None:
    stage = Stage("probe", None, lambda d: [])
    a, b, trial = (_copy(tiny_data, tmp_path / name) for name in ("a", "b", "t"))
    for root, stamp in ((a, "2026-01-01T00:00:00Z"), (b, "2026-01-02T00:00:00Z"), (trial, "2026-01-03T00:00:00Z")):
        (root / "run.json").write_text(json.dumps({"epochs": 3, "finished_at": stamp}), encoding="utf-8")
    ref = compare_references(a, b, stage, seconds=1.0, first_write_s=0.1)
    assert ref.volatile_fields == {"run.json": ["finished_at"]} and "manifests/claims.csv" in ref.strict
    assert compare_with_reference(trial, ref, stage) == []

    (trial / "run.json").write_text(json.dumps({"epochs": 2, "finished_at": "x"}), encoding="utf-8")
    splits = trial / "manifests" / "splits.csv"
    splits.write_text(splits.read_text(encoding="utf-8").replace("train", "test", 1), encoding="utf-8")
    (trial / "audio" / "extra.wav").write_bytes((trial / "audio" / "tr-rock.wav").read_bytes())
    assert compare_with_reference(trial, ref, stage) == [
        "extra audio/extra.wav", "differs manifests/splits.csv", "differs run.json: epochs"]


def test_a_careless_writer_killed_mid_write_is_caught(tmp_path: Path) -> None:
    """The harness on a stage that writes in place and "resumes" by skipping: corrupt, not converged."""
    stage = Stage("naive", None, lambda d: ["tests.bench.naive_writer", str(d)],
                  prepare=lambda d: d.mkdir(parents=True, exist_ok=True))
    data = tmp_path / "input" / "data"
    assert stage.prepare is not None
    stage.prepare(data)
    seed = next(s for s in range(1000) if 0.4 < random.Random(s).uniform(0.0, 1.0) < 0.6)  # mid-write
    result = run_stage(stage, data, tmp_path / "work", trials=1, rng=random.Random(seed))
    assert result.error is None and result.reference is not None
    [trial] = result.trials
    assert trial.killed and trial.rerun_code == 0
    assert [c.split(":", 1)[0] for c in trial.corrupt] == ["manifests/tracks.csv"]
    assert trial.diffs == ["differs manifests/tracks.csv"] and not trial.converged
    assert not goal_met([result])
    assert "naive" in table([result])


def test_one_kill_of_a_real_stage_on_a_tiny_folder(tiny_data: Layout, tmp_path: Path) -> None:
    [result] = run_bench(["resolve"], trials=1, seed=3, work=tmp_path / "work", inputs={"resolve": tiny_data.root})
    assert result.error is None and result.reference is not None
    [trial] = result.trials
    assert trial.rerun_code == 0 and trial.corrupt == [] and trial.tracebacks == 0
    assert "manifests/labels.csv" in result.reference.strict  # resolve is deterministic: compared byte for byte
    summary = json.loads(json.dumps(result.as_dict()))
    assert summary["stage"] == "resolve" and summary["trials"] == 1
    assert table([result]).splitlines()[2].startswith("resolve")
