"""Every command has one shape: .env read at start, --version, one-line user errors, deprecated aliases."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from manifests.cliutil import add_common_arguments, add_deprecated_alias, run_main
from manifests.envfile import load_env_file, read_env_file
from manifests.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("GENRE_DATA_DIR", "GENRE_ENV_FILE")}
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True,
                          text=True, timeout=120, check=False)


# ---------------------------------------------------------------- .env

def test_env_file_fills_only_what_the_environment_lacks(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# settings\nexport GENRE_CONTACT='me@example.org'\nLASTFM_API_KEY=abc # key\n"
                        "SPOTIFY_CLIENT_ID=from-file\n", encoding="utf-8")
    environ = {"SPOTIFY_CLIENT_ID": "from-shell"}
    added = load_env_file(env_file, environ)
    assert sorted(added) == ["GENRE_CONTACT", "LASTFM_API_KEY"]
    assert environ == {"SPOTIFY_CLIENT_ID": "from-shell", "GENRE_CONTACT": "me@example.org",
                       "LASTFM_API_KEY": "abc"}


def test_env_file_can_be_switched_off_or_moved(tmp_path: Path) -> None:
    other = tmp_path / "other.env"
    other.write_text("GENRE_CONTACT=x@example.org\n", encoding="utf-8")
    environ: dict[str, str] = {"GENRE_ENV_FILE": str(other)}
    load_env_file(environ=environ)
    assert environ["GENRE_CONTACT"] == "x@example.org"
    environ = {"GENRE_ENV_FILE": ""}
    assert load_env_file(environ=environ) == []


def test_malformed_env_file_names_the_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GOOD=1\nthis is not a setting\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"\.env line 2: expected KEY=value"):
        read_env_file(env_file)


@pytest.mark.parametrize("package", ["manifests", "labeling"])
def test_every_entry_point_reads_dot_env(tmp_path: Path, package: str) -> None:
    """A data folder named only in .env is the one the command uses (Spotify commands are not special)."""
    (tmp_path / ".env").write_text("GENRE_DATA_DIR=from-dotenv\n", encoding="utf-8")
    command = ["validate"] if package == "manifests" else ["resolve"]
    proc = _run(["-m", package, *command], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "from-dotenv" in proc.stderr.splitlines()[-1]
    proc = _run(["-m", package, *command], cwd=tmp_path, env={"GENRE_DATA_DIR": "from-shell"})
    assert "from-shell" in proc.stderr.splitlines()[-1]


# ---------------------------------------------------------------- --version and errors

@pytest.mark.parametrize("argv", [["-m", "manifests", "--version"], ["-m", "collectors", "download", "--version"],
                                  ["-m", "labeling", "audit", "--version"]])
def test_version_is_everywhere(tmp_path: Path, argv: list[str]) -> None:
    proc = _run(argv, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("python -m ") and proc.stdout.split()[-1][0].isdigit()


def test_user_error_is_one_line_and_a_bug_keeps_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    def refused(argv: object) -> int:
        raise UserError("tracks.csv, row 3: bad")

    assert run_main(refused, []) == 2
    assert capsys.readouterr().err == "error: tracks.csv, row 3: bad\n"

    def broken(argv: object) -> int:
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        run_main(broken, [])


def test_missing_input_table_names_the_command_that_writes_it(tmp_path: Path) -> None:
    proc = _run(["-m", "labeling", "resolve", "--data", "d"], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == \
        "error: d/manifests/tracks.csv not found: run make collect (or make demo for the synthetic corpus) first"


# ---------------------------------------------------------------- deprecated aliases

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo")
    add_common_arguments(parser)
    parser.add_argument("--fresh", action="store_true", help="start over")
    parser.add_argument("--request-interval", type=float, default=1.0, metavar="S", help="seconds")
    add_deprecated_alias(parser, "--overwrite", "--fresh")
    add_deprecated_alias(parser, "--sleep", "--request-interval")
    return parser


def test_old_flag_names_still_work_and_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["--overwrite", "--sleep", "2.5"])
    assert args.fresh is True and args.request_interval == 2.5
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: --overwrite is deprecated and will be removed; use --fresh",
                   "warning: --sleep is deprecated and will be removed; use --request-interval"]


def test_old_flag_names_are_hidden_and_defaults_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    parser = _parser()
    args = parser.parse_args([])
    assert args.fresh is False and args.request_interval == 1.0
    assert capsys.readouterr().err == ""
    text = parser.format_help()
    assert "--fresh" in text and "--overwrite" not in text and "--sleep" not in text
    with pytest.raises(SystemExit):
        parser.parse_args(["--sleep", "soon"])
    assert "invalid float value: 'soon'" in capsys.readouterr().err


def test_alias_of_an_unknown_option_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no option --nope"):
        add_deprecated_alias(argparse.ArgumentParser(prog="x"), "--old", "--nope")


def test_alias_of_a_repeatable_option_appends_to_one_list_and_checks_choices(
        capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--pretrained", action="append", choices=["a", "b"], default=None, metavar="NAME")
    add_deprecated_alias(parser, "--model", "--pretrained")
    assert parser.parse_args([]).pretrained is None
    assert capsys.readouterr().err == ""
    args = parser.parse_args(["--pretrained", "a", "--model", "b", "--model", "a"])
    assert args.pretrained == ["a", "b", "a"]
    assert capsys.readouterr().err.splitlines() == \
        ["warning: --model is deprecated and will be removed; use --pretrained"] * 2
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "c"])
    assert "argument --model: invalid choice: 'c'" in capsys.readouterr().err
    assert "--model" not in parser.format_help()
