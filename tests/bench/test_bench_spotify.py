"""`make bench-spotify` runs end to end: its table on screen and its JSON where the README says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.spotify import main


def test_bench_spotify_writes_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "floor = 1 token" in out and f"wrote {tmp_path / 'bench' / 'spotify.json'}" in out
    result = json.loads((tmp_path / "bench" / "spotify.json").read_text(encoding="utf-8"))
    assert result["benchmark"] == "spotify-collect"
    assert {r["scenario"] for r in result["results"]} == {"clean", "faults"}
