"""`make bench-metadata` runs end to end on a small folder: its table on screen and its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.metadata import TARGETS_S, main


def test_bench_metadata_times_every_step_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tmp_path), "--tracks", "300", "--no-profile", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "metadata stages at 300 tracks" in out and "within: the smaller of wall and CPU seconds" in out
    assert "calib: CPU seconds of a fixed pure-Python workload" in out
    result = json.loads((tmp_path / "bench" / "metadata.json").read_text(encoding="utf-8"))
    assert result["benchmark"] == "metadata" and result["rows"]["tracks"] == 300 and result["repeat"] == 2
    commands = {s["step"]: s for s in result["steps"] if s["kind"] == "command"}
    assert set(commands) == set(TARGETS_S)
    for step in commands.values():
        assert step["seconds"] > 0 and step["cpu_s"] > 0 and "load_before" in step and step["calibration_s"] > 0
        assert step["ok"] == (min(step["seconds"], step["cpu_s"]) <= step["target_s"])
    # every command ran on the same pristine manifests: the audit found the generated folder whole
    assert "audit: 0 errors" in commands["audit"]["output"]
