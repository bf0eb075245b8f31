"""The import benchmark runs end to end and writes the JSON it promises (figures are not judged here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.local.bench import main


def test_bench_times_both_sides_on_the_same_files_and_writes_json(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--data", str(tmp_path / "data"), "--files", "3", "--seconds", "2", "--workers", "1",
                 "--repeat", "1", "-q"])
    assert code == 0
    out = tmp_path / "data" / "bench" / "import.json"
    result = json.loads(out.read_text(encoding="utf-8"))
    plain, ours = result["plain_ffmpeg"], result["import_audio"]
    assert result["files"] == 3 and result["workers"] == 1 and len(plain["rounds_s"]) == len(ours["rounds_s"]) == 1
    assert plain["files_per_s"] > 0 and ours["files_per_s"] > 0
    assert result["ratio_import_vs_plain"] == pytest.approx(ours["files_per_s"] / plain["files_per_s"], abs=0.01)
    assert result["goal_ratio"] == 0.8 and result["meets_goal"] == (result["ratio_import_vs_plain"] >= 0.8)
    printed = capsys.readouterr().out
    assert "ratio import / plain" in printed and str(out) in printed


def test_bench_refuses_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--workers", "0"])
    assert caught.value.code == 2 and "--workers" in capsys.readouterr().err
