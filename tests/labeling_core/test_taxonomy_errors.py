"""A malformed taxonomy file is refused with one line naming the file and the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.cli import main
from labeling.taxonomy import TaxonomyError, load_taxonomy

GOOD_HEAD = '[genres]\nrock = ""\n"hard rock" = "rock"\n'

BAD_FILES = {
    "unknown_parent": (GOOD_HEAD + '"grunge" = "alt rock"\n', "genres.'grunge'", "unknown parent 'alt rock'"),
    "cycle": ('[genres]\na = "b"\nb = "c"\nc = "a"\n', "genres.'a'", "parent cycle a -> b -> c -> a"),
    "alias_unknown": (GOOD_HEAD + '[aliases]\n"hardrock" = "hard-rock"\n', "aliases.'hardrock'",
                      "alias to unknown genre 'hard-rock'"),
    "bad_regex": (GOOD_HEAD + "[[rules]]\npattern = '\\brock('\ngenre = \"rock\"\n", "rules[1]", "bad regex"),
    "rule_unknown": (GOOD_HEAD + "[[rules]]\npattern = 'x'\ngenre = \"polka\"\n", "rules[1]", "unknown genre 'polka'"),
    "bad_name": ('[genres]\n"Hard Rock" = ""\n', "genres.'Hard Rock'", "bad genre name"),
    "double_space": ('[genres]\n"hard  rock" = ""\n', "genres.'hard  rock'", "bad genre name"),
    "same_once_normalised": ('[genres]\n"post-rock" = ""\n"post rock" = ""\n', "genres.'post rock'",
                             "same genre as 'post-rock'"),
    "alias_shadows": (GOOD_HEAD + '[aliases]\n"Hard-Rock" = "rock"\n', "aliases.'Hard-Rock'",
                      "shadow the canonical genre 'hard rock'"),
    "alias_conflict": (GOOD_HEAD + '[aliases]\n"hr" = "rock"\n"HR" = "hard rock"\n', "aliases.'HR'",
                       "same alias as 'hr'"),
    "no_genres": ('[aliases]\n"x" = "y"\n', "genres", "missing or empty"),
    "toml_syntax": ('[genres]\nrock = \n', "not valid TOML", "line 2"),
    "unknown_section": (GOOD_HEAD + "[alias]\nx = 'rock'\n", "alias", "unknown section"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_taxonomy_gives_one_line_error(tmp_path: Path, case: str) -> None:
    text, entry, problem = BAD_FILES[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert entry in message and problem in message


def test_missing_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="taxonomy file not found"):
        load_taxonomy(tmp_path / "nope.toml")
    bad = tmp_path / "t.json"
    bad.write_text('{"genres": {"rock": ""},}', encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"t\.json: line 1: not valid JSON"):
        load_taxonomy(bad)


def test_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["taxonomy", "check"]) == 0
    assert "examples ok" in capsys.readouterr().out

    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_FILES["unknown_parent"][0], encoding="utf-8")
    assert main(["taxonomy", "check", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"error: {bad}") and "unknown parent" in err

    failing = tmp_path / "failing.toml"
    failing.write_text(GOOD_HEAD + '[examples]\n"Hard Rock" = "hard rock"\n"rocks" = "rock"\n', encoding="utf-8")
    assert main(["taxonomy", "check", str(failing)]) == 1
    captured = capsys.readouterr()
    assert "'rocks' maps to None" in captured.err and "1/2 examples ok" in captured.out


def test_map_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["taxonomy", "map", "Hip-Hop", "liquid dnb", "seen live"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "-> hip hop" in out[0]
    assert "-> liquid funk" in out[1] and "drum and bass < electronic" in out[1]
    assert "(unmapped)" in out[2]
    assert main(["taxonomy", "map", "--strict", "seen live"]) == 1
