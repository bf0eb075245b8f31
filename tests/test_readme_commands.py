"""The README's commands table matches the real commands: every command listed, every option real."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("manifests", "collectors", "labeling", "training")
ROW = re.compile(r"^\| `python -m (\w+) ([a-z-]+)` \|([^|]*)\|([^|]*)\|([^|]*)\|$", re.M)


def _table() -> dict[tuple[str, str], tuple[str, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Commands"):]
    section = section[:section.index("\n## ", 1)]
    return {(m.group(1), m.group(2)): (m.group(3).strip(), m.group(5).strip()) for m in ROW.finditer(section)}


@cache
def _help(*argv: str) -> str:
    proc = subprocess.run([sys.executable, "-m", *argv, "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _subcommands(package: str) -> set[str]:
    text = _help(package)
    listing = text[text.index("COMMAND\n"):text.index("options:")]
    return set(re.findall(r"^    ([a-z][a-z-]+)", listing, re.M))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_command_of_every_package_is_in_the_table(package: str) -> None:
    listed = {command for pkg, command in _table() if pkg == package}
    assert _subcommands(package) == listed


@pytest.mark.parametrize(("package", "command"), sorted(_table()))
def test_every_option_the_table_names_is_in_the_commands_help(package: str, command: str) -> None:
    _, options = _table()[(package, command)]
    text = _help(package, command)
    named = re.findall(r"`([a-z-]+)`", options)
    for name in named:
        pattern = rf"(?<![\w-]){re.escape(name)}(?![\w-])"
        assert re.search(pattern, text), f"{package} {command}: {name} is not in --help"
    # and the options every command shares
    for common in ("--data", "--verbose", "--quiet", "--version"):
        assert common in text or command == "taxonomy", f"{package} {command}: no {common}"


def test_make_targets_named_in_the_table_exist() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    for (package, command), (make, _) in _table().items():
        for target in re.findall(r"`make ([a-z-]+)`", make):
            assert target in targets, f"{package} {command}: make {target} does not exist"


def test_console_scripts_are_the_same_commands() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert {target.split(".")[0] for target in scripts.values()} == set(PACKAGES)
    text = (REPO / "README.md").read_text(encoding="utf-8")
    for name in scripts:
        assert f"`{name}`" in text
