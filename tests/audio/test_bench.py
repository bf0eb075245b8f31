"""The benchmark runs end to end and writes the JSON it promises (figures are not judged here)."""

from __future__ import annotations

import json

import pytest

from collectors.audio.bench import main


def test_bench_writes_its_table_and_json(tmp_path, capsys) -> None:
    out = tmp_path / "bench" / "audio.json"
    code = main(["--files", "2", "--seconds", "1", "--max-workers", "2", "--repeat", "1",
                 "--tasks-per-worker", "1", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    per = result["per_process"]
    assert per["plain_ffmpeg_audio_s_per_s"] > 0 and per["ours_audio_s_per_s"] > 0
    assert abs(per["ratio_ours_vs_plain"] - per["ours_audio_s_per_s"] / per["plain_ffmpeg_audio_s_per_s"]) < 0.02
    rows = result["workers"]
    assert {w["placement"] for w in rows} <= {"one core each", "free"}
    for placement in {w["placement"] for w in rows}:
        mine = [w for w in rows if w["placement"] == placement]
        assert [w["workers"] for w in mine] == [1, 2] and mine[0]["speedup"] == 1.0
    defaults = [w for w in rows if w["default"]]
    assert sorted(w["workers"] for w in defaults) == [1, 2]  # exactly one default placement per worker count
    assert result["default_speedup_vs_one_worker"]["1"] == 1.0
    assert result["files"] == ["clip0.mp3", "clip1.webm"]
    printed = capsys.readouterr().out
    assert "ratio ours / plain" in printed and "(download default)" in printed and str(out) in printed


def test_bench_refuses_nonsense(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--files", "0"])
    assert caught.value.code == 2 and "--files: '0' must be at least 1" in capsys.readouterr().err
