"""``python -m collectors doctor``: can this machine download and convert audio? Says what to fix.

Checks ffmpeg (found, runs, decodes the codecs YouTube serves), ffmpeg-python,
yt-dlp (version and age), its JavaScript pieces (deno runtime, yt-dlp-ejs),
ytmusicapi, the cookies file when one is given (readable, Netscape format, has
YouTube cookies; values are never printed) and the data folder.  Exit status 1
when something required is missing.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

#: decoders needed for what YouTube serves (opus, aac) and for local files people bring
NEEDED_DECODERS = ("opus", "aac", "vorbis", "mp3", "flac")
#: yt-dlp older than this many days is likely to be broken by YouTube changes
YTDLP_MAX_AGE_DAYS = 90


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail | info
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class CookieReport:
    cookies: int
    youtube: int
    expired: int
    bad_lines: int
    problem: str | None


def check_cookie_file(path: Path | str, now: float | None = None) -> CookieReport:
    """Parse a cookies.txt without revealing any value; ``problem`` is None when yt-dlp can use it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CookieReport(0, 0, 0, 0, f"{path}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        return CookieReport(0, 0, 0, 0, f"{path}: cannot be read ({type(exc).__name__})")
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return CookieReport(0, 0, 0, 0, f"{path}: this is a JSON cookie export; export cookies.txt in Netscape "
                                        "format instead (e.g. the 'Get cookies.txt LOCALLY' browser extension)")
    now = now if now is not None else datetime.now(UTC).timestamp()
    cookies = youtube = expired = bad = 0
    for line in text.splitlines():
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7 or fields[1].upper() not in ("TRUE", "FALSE") or \
                fields[3].upper() not in ("TRUE", "FALSE"):
            bad += 1
            continue
        cookies += 1
        domain = fields[0].lower().lstrip(".")
        if domain == "youtube.com" or domain.endswith(".youtube.com"):
            youtube += 1
            try:
                expires = int(fields[4] or 0)
            except ValueError:
                expires = 0
            if 0 < expires < now:
                expired += 1
    problem = None
    if bad and not cookies:
        problem = (f"{path}: not in Netscape cookies.txt format ({bad} line(s) without the 7 tab-separated "
                   "fields); export it again as cookies.txt")
    elif not cookies:
        problem = f"{path}: holds no cookies"
    elif not youtube:
        problem = f"{path}: holds {cookies} cookie(s) but none for youtube.com; export them while on youtube.com"
    elif youtube == expired:
        problem = f"{path}: every youtube.com cookie has expired; log in again and export a fresh file"
    return CookieReport(cookies, youtube, expired, bad, problem)


def _run_first_line(cmd: list[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    text = (proc.stdout or proc.stderr).decode("utf-8", "replace").strip().splitlines()
    return proc.returncode == 0, text[0] if text else f"exit status {proc.returncode}"


def check_ffmpeg() -> list[Check]:
    from manifests.audio import ENV_FFMPEG, FFmpegError, ffmpeg_exe

    try:
        exe = ffmpeg_exe()
    except FFmpegError as exc:
        return [Check("ffmpeg", "fail", str(exc), f"pip install imageio-ffmpeg, or set {ENV_FFMPEG}")]
    ran, first = _run_first_line([exe, "-hide_banner", "-version"])
    if not ran:
        return [Check("ffmpeg", "fail", f"{exe} does not run: {first}",
                      f"reinstall imageio-ffmpeg or point {ENV_FFMPEG} at a working ffmpeg")]
    out = [Check("ffmpeg", "ok", f"{first.split(' Copyright')[0]} ({exe})")]
    try:
        proc = subprocess.run([exe, "-hide_banner", "-decoders"], capture_output=True, timeout=30, check=False)
        listed = {line.split()[1] for line in proc.stdout.decode("utf-8", "replace").splitlines()
                  if len(line.split()) > 1 and line.startswith(" A")}
    except (OSError, subprocess.TimeoutExpired):
        listed = set()
    missing = [d for d in NEEDED_DECODERS if d not in listed and f"lib{d}" not in listed]
    if missing:
        out.append(Check("ffmpeg decoders", "fail", f"missing: {', '.join(missing)}",
                         "use a full ffmpeg build (the imageio-ffmpeg one has them all)"))
    else:
        out.append(Check("ffmpeg decoders", "ok", ", ".join(NEEDED_DECODERS)))
    return out


def check_python_packages() -> list[Check]:
    out = []
    try:
        import ffmpeg  # noqa: F401

        out.append(Check("ffmpeg-python", "ok", "importable"))
    except ImportError:
        out.append(Check("ffmpeg-python", "fail", "not installed", "pip install ffmpeg-python"))
    try:
        from importlib.metadata import version

        out.append(Check("ytmusicapi", "ok", version("ytmusicapi")))
    except Exception:
        out.append(Check("ytmusicapi", "fail", "not installed", "pip install ytmusicapi"))
    return out


def check_ytdlp(today: date | None = None) -> list[Check]:
    try:
        from yt_dlp.version import __version__
    except ImportError:
        return [Check("yt-dlp", "fail", "not installed", "pip install -U 'yt-dlp[default]'")]
    out = []
    try:
        released = datetime.strptime(".".join(__version__.split(".")[:3]), "%Y.%m.%d").date()
        age = ((today or date.today()) - released).days
    except ValueError:
        age = None
    if age is not None and age > YTDLP_MAX_AGE_DAYS:
        out.append(Check("yt-dlp", "warn", f"{__version__} is {age} days old; YouTube changes often break old "
                                           "versions", "pip install -U 'yt-dlp[default]'"))
    else:
        out.append(Check("yt-dlp", "ok", __version__))
    import importlib.util

    if importlib.util.find_spec("yt_dlp_ejs") is None:
        out.append(Check("yt-dlp-ejs", "warn", "not installed: YouTube's JavaScript challenges cannot be solved "
                                               "offline", "pip install -U 'yt-dlp[default]'"))
    else:
        out.append(Check("yt-dlp-ejs", "ok", "challenge solver scripts installed"))
    return out


def check_js_runtime() -> list[Check]:
    from collectors.youtube.ytdlp import find_deno

    deno = find_deno()
    if deno is None:
        return [Check("JS runtime (deno)", "fail", "deno not found on PATH or beside Python",
                      "pip install deno (or install deno from deno.com); yt-dlp needs it for YouTube")]
    ran, first = _run_first_line([deno, "--version"])
    if not ran:
        return [Check("JS runtime (deno)", "fail", f"{deno} does not run: {first}", "reinstall deno")]
    return [Check("JS runtime (deno)", "ok", f"{first} ({deno})")]


def check_cookies(path: Path | None) -> list[Check]:
    if path is None:
        return [Check("cookies", "info", "none given: guest access (about 300 videos per hour before YouTube "
                                         "asks to sign in)", "optional: --cookies FILE (see collectors/audio/README.md)")]
    report = check_cookie_file(path)
    if report.problem:
        return [Check("cookies", "fail", report.problem, "export cookies.txt from a logged-in browser")]
    out = [Check("cookies", "ok", f"{path}: {report.cookies} cookies, {report.youtube} for youtube.com"
                                  + (f" ({report.expired} expired)" if report.expired else ""))]
    try:
        mode = Path(path).stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            out.append(Check("cookies permissions", "warn", f"{path} is readable by other users",
                             f"chmod 600 {path}"))
    except OSError:
        pass
    return out


def check_data(data: Path) -> list[Check]:
    from manifests import Layout
    from manifests.io import MissingTable
    from manifests.schema import TRACKS

    layout = Layout.at(data)
    out = []
    tracks = layout.table_path(TRACKS)
    if tracks.exists():
        out.append(Check("tracks table", "ok", str(tracks)))
    else:  # the same words as every stage that finds it missing
        out.append(Check("tracks table", "info", str(MissingTable(tracks, TRACKS)), TRACKS.command))
    probe = layout.root if layout.root.exists() else Path.cwd()
    free = shutil.disk_usage(probe).free
    hours = free / (16000 * 2 * 3600)
    status = "ok" if free > 2 * 1024**3 else "warn"
    out.append(Check("disk space", status, f"{free / 1024**3:.1f} GiB free at {probe} (~{hours:.0f} h of 16 kHz "
                                            "mono WAV)", "" if status == "ok" else "free some space or use --clip-seconds"))
    if layout.root.exists() and not os.access(layout.root, os.W_OK):
        out.append(Check("data folder", "fail", f"{layout.root} is not writable", "fix its permissions"))
    return out


def run_checks(data: Path, cookies: Path | None) -> list[Check]:
    return [*check_ffmpeg(), *check_python_packages(), *check_ytdlp(), *check_js_runtime(),
            *check_cookies(cookies), *check_data(data)]


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "info": "info"}[check.status]
        lines.append(f"{mark}  {check.name:<{width}}  {check.detail}")
        if check.fix and check.status in ("warn", "fail"):
            lines.append(f"      {'':<{width}}  fix: {check.fix}")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    lines.append("")
    lines.append("doctor: everything required is in place" + (f" ({warned} warning(s))" if warned else "")
                 if not failed else f"doctor: {failed} problem(s) to fix before `make download`")
    return "\n".join(lines)
