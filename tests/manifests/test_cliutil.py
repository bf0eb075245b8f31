"""Command-line numbers are checked once, with messages that say what is allowed."""

import argparse

import pytest

from manifests.cliutil import number, run_main
from manifests.errors import UserError


@pytest.mark.parametrize(("parser", "text", "message"), [
    (number(int, 1), "0", "'0' must be at least 1"),
    (number(int, 0), "x", "'x' is not a whole number"),
    (number(float, 0, 1), "1.5", "'1.5' must be between 0 and 1"),
    (number(float, 0, unit="seconds"), "-2", "'-2' must be 0 or more seconds"),
    (number(float, above=0), "0", "'0' must be greater than 0"),
    (number(float, 0), "nan", "'nan' must be 0 or more"),
])
def test_bad_numbers_are_refused(parser, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parser(text)


def test_good_numbers_pass() -> None:
    assert number(int, 1)("3") == 3
    assert number(float, 0, 1)("0.25") == 0.25


def test_user_errors_become_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    def main(argv):
        raise UserError("playlists.csv, row 3: 'spotify:album:x' is not a playlist")

    assert run_main(main, []) == 2
    assert capsys.readouterr().err == "error: playlists.csv, row 3: 'spotify:album:x' is not a playlist\n"
