"""The synthetic corpus README says what the code does: recipes, patterns, options, errors, API.

Each check reads the README and compares it with the code, so a changed recipe, default or
message fails here until the documentation is updated.  No audio is rendered.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
from pathlib import Path

import pytest

from collectors.synthetic import cmd
from collectors.synthetic.corpus import CorpusConfig, CorpusError
from collectors.synthetic.genres import DRUM_PATTERNS, recipes_markdown

README = Path(cmd.__file__).with_name("README.md")


def _text() -> str:
    return README.read_text(encoding="utf-8")


def _corpus_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cmd.register(sub)
    return sub.choices["corpus"]


def test_recipes_table_matches_the_recipes() -> None:
    match = re.search(r"<!-- recipes-table -->\n(.*?)<!-- /recipes-table -->", _text(), re.S)
    assert match, "README lacks the <!-- recipes-table --> ... <!-- /recipes-table --> section"
    assert match.group(1) == recipes_markdown(), \
        "README recipes table is stale: paste collectors.synthetic.genres.recipes_markdown() between the markers"


def test_recipes_markdown_has_one_row_per_genre_in_each_table() -> None:
    from collectors.synthetic.genres import GENRES

    rows = [line for line in recipes_markdown().splitlines() if line.startswith("| ") and "---" not in line]
    names = [row.split(" | ")[0].removeprefix("| ") for row in rows]
    assert names == ["genre", *GENRES, "genre", *GENRES]
    assert "| drum and bass | 170-176 | breakbeat: break_two_step, break_amen, break_rolling |" in recipes_markdown()


def test_quoted_drum_patterns_are_the_real_ones() -> None:
    quoted = re.findall(r"^(\w+)\s+(\w+)\s+([Xxog.]{16,32})$", _text(), re.M)
    assert len(quoted) >= 8
    for name, voice, steps in quoted:
        assert DRUM_PATTERNS[name][voice] == steps, (name, voice)


def test_options_table_lists_every_option_with_its_default() -> None:
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(--[a-z-]+)[^|]*\| ([^|]*) \|", _text(), re.M)}
    parser = _corpus_parser()
    for action in parser._actions:
        long = [o for o in action.option_strings if o.startswith("--")]
        if not long or long[0] in ("--help", "--verbose", "--quiet", "--version") or action.help == argparse.SUPPRESS:
            continue  # deprecated aliases are hidden on purpose
        assert long[0] in rows, f"{long[0]} missing from the README options table"
        if isinstance(action.default, int | float) and not isinstance(action.default, bool) \
                and long[0] != "--workers":
            assert rows[long[0]].startswith(f"{action.default:g}"), (long[0], rows[long[0]], action.default)


@pytest.mark.parametrize("kw", [{"tracks_per_genre": 3}, {"genres": ("rock", "polka")}, {"seconds": 0.5}])
def test_quoted_error_lines_are_the_real_messages(kw: dict) -> None:
    with pytest.raises(CorpusError) as err:
        CorpusConfig(**kw).check()
    assert f"error: {err.value}\n" in _text()


def test_python_example_imports_names_that_exist() -> None:
    block = re.search(r"```python\n(.*?)```", _text(), re.S)
    assert block
    tree = ast.parse(block.group(1))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert imports
    for node in imports:
        module = importlib.import_module(node.module)
        for alias in node.names:
            assert hasattr(module, alias.name), f"{node.module}.{alias.name}"


def test_hard_pair_table_quotes_the_two_recipes() -> None:
    from collectors.synthetic.genres import recipe

    def span(pair: tuple[float, float]) -> str:
        return f"{pair[0]:g}-{pair[1]:g}"

    dnb, liquid = recipe("drum and bass"), recipe("liquid funk")
    text = _text()
    for label, field in (("energy (compression and drive)", "energy"), ("tone (brightness)", "tone"),
                         ("reverb", "reverb")):
        row = f"| {label} | {span(getattr(dnb, field))} | {span(getattr(liquid, field))} |"
        assert row in text, row
    assert dnb.bass == ("reese", "fm") and liquid.bass == ("sub", "pluck")
    assert f"({dnb.tempo[0]:g}-{dnb.tempo[1]:g} BPM)" in text and dnb.tempo == liquid.tempo
