"""``python -m collectors doctor`` and the ``download`` command line: what a user sees (and the options every
``collectors`` command shares)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.audio.doctor import check_cookie_file, check_ytdlp
from collectors.cli import main, parser

REPO = Path(__file__).resolve().parents[2]
FUTURE = 4102444800  # 2100-01-01
SECRET = "S3cretCookieValue987654"


def _cookies(tmp_path: Path, lines: list[str], header: bool = True) -> Path:
    path = tmp_path / "cookies.txt"
    text = ("# Netscape HTTP Cookie File\n" if header else "") + "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_netscape_cookies_with_youtube_entries_pass(tmp_path) -> None:
    path = _cookies(tmp_path, [f".youtube.com\tTRUE\t/\tTRUE\t{FUTURE}\tLOGIN_INFO\t{SECRET}",
                               f"#HttpOnly_.youtube.com\tTRUE\t/\tTRUE\t{FUTURE}\tHSID\t{SECRET}",
                               f".google.com\tTRUE\t/\tTRUE\t{FUTURE}\tNID\t{SECRET}"])
    report = check_cookie_file(path)
    assert report.problem is None and (report.cookies, report.youtube, report.expired) == (3, 2, 0)


@pytest.mark.parametrize("content, words", [
    (f'[{{"domain": ".youtube.com", "name": "SID", "value": "{SECRET}"}}]', "JSON cookie export"),
    (f"SID={SECRET}; HSID={SECRET}", "not in Netscape cookies.txt format"),
    (f".google.com\tTRUE\t/\tTRUE\t{FUTURE}\tNID\t{SECRET}", "none for youtube.com"),
    (f".youtube.com\tTRUE\t/\tTRUE\t1000\tSID\t{SECRET}", "expired"),
    ("# Netscape HTTP Cookie File\n", "holds no cookies"),
])
def test_bad_cookie_files_are_explained_without_revealing_values(tmp_path, content, words) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(content, encoding="utf-8")
    report = check_cookie_file(path)
    assert report.problem and words in report.problem and SECRET not in report.problem


def test_old_ytdlp_gets_a_warning_with_the_fix() -> None:
    from datetime import date

    checks = check_ytdlp(today=date(2099, 1, 1))
    assert checks[0].status == "warn" and "pip install -U" in checks[0].fix


def test_doctor_passes_here_and_lists_every_check(tmp_path, capsys) -> None:
    code = main(["doctor", "--data", str(tmp_path / "data")])
    out = capsys.readouterr().out
    for name in ("ffmpeg", "ffmpeg decoders", "yt-dlp", "JS runtime (deno)", "cookies", "ytmusicapi"):
        assert name in out
    assert code == 0, out


def test_doctor_fails_and_says_what_to_fix(tmp_path) -> None:
    cookies = tmp_path / "cookies.json"
    cookies.write_text(f'[{{"value": "{SECRET}"}}]', encoding="utf-8")
    env = {**os.environ, "GENRE_FFMPEG": str(tmp_path / "no-ffmpeg-here"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "collectors", "doctor", "--data", str(tmp_path),
                           "--cookies", str(cookies)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert "FAIL  ffmpeg" in proc.stdout and "fix: pip install imageio-ffmpeg, or set GENRE_FFMPEG" in proc.stdout
    assert "JSON cookie export" in proc.stdout and SECRET not in proc.stdout + proc.stderr


def test_download_refuses_a_bad_cookies_file_in_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(f"SID={SECRET}", encoding="utf-8")
    assert main(["download", "--data", str(tmp_path), "--cookies", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --cookies ") and "Netscape" in err and "\n" not in err and SECRET not in err


def test_download_without_a_tracks_table_says_what_to_run_first(tmp_path, capsys) -> None:
    assert main(["download", "--data", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    tracks = tmp_path / "empty" / "manifests" / "tracks.csv"
    assert err == f"error: {tracks} not found: run make collect (or make demo for the synthetic corpus) first"
    assert not (tmp_path / "empty" / "manifests" / "downloads.csv").exists()


@pytest.mark.parametrize("args, words", [
    (["--download-interval", "10,5"], "0 <= MIN <= MAX"),
    (["--workers", "0"], "must be at least 1"),
    (["--min-match-score", "2"], "between 0 and 1"),
    (["--clip-seconds", "-3"], "greater than 0"),
])
def test_bad_options_are_refused(tmp_path, capsys, args, words) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["download", "--data", str(tmp_path), *args])
    assert caught.value.code == 2 and words in capsys.readouterr().err


def test_help_documents_the_options_and_imports_nothing_heavy() -> None:
    proc = subprocess.run([sys.executable, "-m", "collectors", "download", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for flag in ("--workers", "--download-interval", "--request-interval", "--verify-audio", "--cookies", "--clip-seconds", "--clip-offset", "--shard", "--limit", "--retry-failed"):
        assert flag in proc.stdout
    code = ("import argparse, sys\n"
            "from collectors.audio import cmd\n"
            "cmd.register(argparse.ArgumentParser().add_subparsers())\n"
            "print(sorted(m for m in ('yt_dlp', 'ytmusicapi', 'soundfile', 'ffmpeg', 'tqdm') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr


@pytest.mark.parametrize("old, new", [
    (["--sleep", "2,3"], ["--download-interval", "2,3"]),
    (["--verify"], ["--verify-audio"]),
    (["--max-seconds", "30"], ["--clip-seconds", "30"]),
    (["--threshold", "0.8"], ["--min-match-score", "0.8"]),
])
def test_old_download_flag_names_still_work_with_one_deprecation_line(old, new, capsys) -> None:
    command = ["download", "--data", "somewhere"]
    assert vars(parser().parse_args(command + old)) == vars(parser().parse_args(command + new))
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {old[0]} is deprecated and will be removed; use {new[0]}"]


def test_every_collectors_command_has_data_verbosity_and_version() -> None:
    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {"collect", "import-export", "spotify-login", "labels", "download", "doctor", "corpus",
                             "import-audio"}
    for name, command in commands.items():
        options = {option for action in command._actions for option in action.option_strings}
        assert {"--data", "-v", "-q", "--version"} <= options, name
