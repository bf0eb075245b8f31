"""The matching benchmark: its hand-labelled lists meet the goal, and a malformed list file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collectors.youtube.bench import BenchListError, load_lists, main

#: every kind of wrong recording the issue names has traps in the lists
KINDS = {"remake", "remix", "sped_up", "slowed", "nightcore", "8d", "bass_boosted", "mashup", "type_beat",
         "reaction", "tutorial", "cover", "fan_edit", "instrumental", "karaoke", "a_cappella", "live", "full_album",
         "loop"}


def test_the_benchmark_meets_its_goal_and_writes_its_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench" / "match.json"
    assert main(["--out", str(out), "-q"]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    s = result["summary"]
    assert s["lists"] >= 30 and s["lists_with_right_video"] >= 30
    assert s["wrong_recording_accepted_candidates"] == 0 and s["traps_passed_when_all_scored"] == 0
    assert s["right_pick_rate"] >= 0.95 and s["no_match_where_one_existed"] == 0
    assert s["correct_no_match"] == s["lists_without_usable_video"] >= 3
    assert s["goal_met"] is True
    assert KINDS <= set(result["trap_kinds"])
    # fallbacks too: nothing accepted on any list is a trap
    assert all(not label.startswith("trap:") for r in result["lists"] for _, label, _ in r["accepted"])
    printed = capsys.readouterr().out
    assert "goal met" in printed and "wrong recording accepted        0" in printed and str(out) in printed


def test_lists_look_like_real_search_results() -> None:
    lists = load_lists()
    rounds_used = {name for b in lists for name, cands in b.rounds.items() if cands}
    assert rounds_used == {"songs", "videos", "ytsearch"}
    videos = [c for b in lists for c in b.candidates if c.round != "songs"]
    assert all(c.data.get("views", "").endswith(" views") for c in videos)
    assert any(c.data["channel"].endswith("VEVO") for c in videos)
    assert sum(1 for b in lists if not b.has_usable) >= 3  # lists where the only right answer is no match


@pytest.mark.parametrize("broken, message", [
    ({"lists": []}, "no lists"),
    ({"lists": [{"id": "x", "track": {"title": "T", "artists": ["A"], "length": "3:00"},
                 "songs": [{"id": "short", "title": "T", "artists": ["A"], "length": "3:00", "is": "right"}]}]},
     "bad or repeated video id"),
    ({"lists": [{"id": "x", "track": {"title": "T", "artists": ["A"], "length": "3:00"},
                 "videos": [{"id": "abcdefghijk", "title": "T", "channel": "C", "length": "3:00", "is": "ok"}]}]},
     "must be right, same or trap"),
    ({"lists": [{"id": "x", "track": {"title": "T", "artists": ["A"]}}]}, "needs a title, artists and a length"),
])
def test_a_malformed_list_file_is_refused(tmp_path: Path, broken: dict, message: str) -> None:
    path = tmp_path / "lists.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(BenchListError, match=message):
        load_lists(path)
