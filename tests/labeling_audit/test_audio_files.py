"""The default audit looks at every audio file cheaply: broken WAVs are errors, nothing is decoded or hashed.

Trials found a text file and a 0-byte file named ``audio/<id>.wav`` passing the default
audit; and an ``audio_path`` of ``../../../../etc/passwd`` must never be opened.  The files
here are made the way they turn up in practice (soundfile, ffmpeg, a cut copy).
"""

from __future__ import annotations

import builtins
import csv
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

import manifests.audio
import manifests.audio.ffmpeg
import manifests.audio.wav
from labeling.audit import AuditOptions, run_audit
from labeling.audit.checks import CHECKS, FILE_CHECKS, AuditInput, audio_path_outside, check_audio
from labeling.audit.load import join_view
from labeling.taxonomy import load_taxonomy
from manifests.audio import ffmpeg_exe
from manifests.hashing import sha256_file
from manifests.layout import Layout
from manifests.overrides import Overrides
from tests.fixtures.corpus import label_row, track_row, write_tables

SECONDS = 12.0  # above the audit's minimum length, so only the file checks speak
#: What each track's file is, and the audit finding it must get (None: a good file).
FILES = {
    "t-good": None,
    "t-good-ffmpeg": None,
    "t-empty": "audio_empty",
    "t-text": "audio_not_wav",
    "t-mp3": "audio_not_wav",
    "t-cut": "audio_truncated",
    "t-stereo": "audio_wrong_format",
    "t-short": "audio_duration_mismatch",
}


def _tone(seconds: float, rate: int = 16000, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-y", "-loglevel", "error", *args], check=True)


def _make_files(layout: Layout, scratch: Path) -> None:
    audio = layout.audio
    audio.mkdir(parents=True, exist_ok=True)
    source = scratch / "source.wav"
    sf.write(source, _tone(SECONDS), 16000, subtype="PCM_16")
    sf.write(audio / "t-good.wav", _tone(SECONDS), 16000, subtype="PCM_16")
    # the converter's own command line: LIST chunk before the data, like every downloaded file
    _ffmpeg("-i", str(source), "-ac", "1", "-ar", "16000", "-acodec", "pcm_s16le", str(audio / "t-good-ffmpeg.wav"))
    (audio / "t-empty.wav").write_bytes(b"")
    (audio / "t-text.wav").write_text("this is not audio, just a note someone saved as .wav\n", encoding="utf-8")
    _ffmpeg("-i", str(source), "-codec:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", str(audio / "t-mp3.wav"))
    whole = (audio / "t-good.wav").read_bytes()
    (audio / "t-cut.wav").write_bytes(whole[:len(whole) * 2 // 3])
    _ffmpeg("-i", str(source), "-ac", "2", "-ar", "44100", "-acodec", "pcm_s16le", str(audio / "t-stereo.wav"))
    sf.write(audio / "t-short.wav", _tone(1.0), 16000, subtype="PCM_16")  # replaced after it was recorded


def _build(root: Path) -> Layout:
    layout = Layout(root)
    _make_files(layout, root)
    ids = sorted(FILES)
    downloads = [{"track_id": tid, "status": "ok", "youtube_id": "dQw4w9WgXcQ", "match_score": 0.9,
                  "audio_path": f"audio/{tid}.wav", "sample_rate": 16000, "audio_duration_s": SECONDS,
                  "sha256": sha256_file(layout.audio / f"{tid}.wav")} for tid in ids]
    return write_tables(layout, tracks=[track_row(tid, f"Song {tid}", seconds=SECONDS) for tid in ids],
                        labels=[label_row(tid, {"rock": 1.0}) for tid in ids], downloads=downloads)


def _found(findings: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        out[f.check].add(f.track_id)
    return out


class _Counted:
    """A file handle that adds what is read from it to a counter."""

    def __init__(self, handle: Any, name: str, counts: dict[str, int]) -> None:
        self._handle, self._name, self._counts = handle, name, counts
        counts[name] += 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._handle.read(size)
        self._counts[self._name] += len(data)
        return data

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._handle, attr)

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def _forbid(name: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the default audit called {name}")
    return refuse


class Spy:
    """Once armed: decoding, hashing and ffmpeg fail the test, and reads of audio files are counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        #: file name -> bytes the WAV header check read from it
        self.read: dict[str, int] = defaultdict(int)
        self.fds: dict[int, str] = {}
        self._os_open, self._pread = os.open, os.pread

    def open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return _Counted(builtins.open(file, mode, *args, **kwargs), os.fspath(file), self.read)

    def os_open(self, path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = self._os_open(path, flags, *args, **kwargs)
        self.fds[fd] = os.fspath(path)
        return fd

    def pread(self, fd: int, n: int, offset: int) -> bytes:
        data = self._pread(fd, n, offset)
        self.read[self.fds.get(fd, f"fd {fd}")] += len(data)
        return data

    def arm(self) -> None:
        for module, name in ((manifests.audio, "inspect_wav"), (manifests.audio.wav, "inspect_wav"),
                             (manifests.audio, "decode_audio"), (manifests.audio.ffmpeg, "decode_audio"),
                             (manifests.audio, "probe"), (manifests.audio.ffmpeg, "probe"),
                             (manifests.audio.wav, "sha256_file"), (sf, "read"), (sf, "info"), (sf, "SoundFile"),
                             (subprocess, "run"), (subprocess, "Popen")):
            self.monkeypatch.setattr(module, name, _forbid(f"{module.__name__}.{name}"))
        self.monkeypatch.setattr("labeling.audit.checks.sha256_file", _forbid("sha256_file"))
        self.monkeypatch.setattr(manifests.audio.wav, "open", self.open, raising=False)
        # the audit opens most files itself, reading their header with os.pread
        self.monkeypatch.setattr(os, "open", self.os_open)
        self.monkeypatch.setattr(os, "pread", self.pread)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(monkeypatch)


def test_default_audit_flags_exactly_the_broken_files_from_their_headers(tmp_path: Path,
                                                                         spy: Spy) -> None:
    layout = _build(tmp_path / "data")
    spy.arm()
    result = run_audit(layout.manifests, options=AuditOptions(plots=False))
    found = _found(result.findings)
    for check in FILE_CHECKS:
        expected = {tid for tid, problem in FILES.items() if problem == check}
        assert found.get(check, set()) == expected, check
        assert CHECKS[check][0] == "error"
    assert not found.get("audio_file_missing") and not found.get("duration_outlier")
    # header and size only: a few dozen bytes of every file, never its samples
    opened = {Path(name).name: n for name, n in spy.read.items()}
    assert set(opened) == {f"{tid}.wav" for tid in FILES}
    assert max(opened.values()) < 200, opened
    # the findings are in flagged.csv and report.md, with a reason a person can act on
    with open(result.flagged, encoding="utf-8-sig", newline="") as handle:
        rows = {(r["track_id"], r["check"]): r for r in csv.DictReader(handle)}
    assert rows[("t-empty", "audio_empty")]["severity"] == "error"
    assert "0 bytes" in rows[("t-empty", "audio_empty")]["detail"]
    assert "looks like text" in rows[("t-text", "audio_not_wav")]["detail"]
    assert "looks like an MP3" in rows[("t-mp3", "audio_not_wav")]["detail"]
    assert "(12.0 s) but the file holds" in rows[("t-cut", "audio_truncated")]["detail"]
    assert "44100 Hz, 2 channel(s)" in rows[("t-stereo", "audio_wrong_format")]["detail"]
    assert "holds 1.0 s of audio but the manifest says 12.0 s" in rows[("t-short", "audio_duration_mismatch")]["detail"]
    report = result.report.read_text(encoding="utf-8")
    assert "| `audio_not_wav` | error | 2 |" in report and "| `audio_empty` | error | 1 |" in report
    assert "8 WAV headers read" in report and "6 broken" in report
    assert result.fails("error")


def test_no_audio_files_skips_the_file_checks(tmp_path: Path, spy: Spy) -> None:
    layout = _build(tmp_path / "data")
    spy.arm()
    result = run_audit(layout.manifests, options=AuditOptions(plots=False, check_files=False))
    assert not {f.check for f in result.findings} & {"audio_file_missing", *FILE_CHECKS}
    assert not spy.read
    report = result.report.read_text(encoding="utf-8")
    for check in FILE_CHECKS:
        assert f"| `{check}` | error | skipped: --no-audio-files |" in report


def test_verify_audio_still_hashes_on_top_of_the_header_check(tmp_path: Path) -> None:
    layout = _build(tmp_path / "data")
    sf.write(layout.audio / "t-good.wav", _tone(SECONDS) * 0.5, 16000, subtype="PCM_16")  # same header
    result = run_audit(layout.manifests, options=AuditOptions(plots=False, verify_audio=True))
    found = _found(result.findings)
    assert "t-good" in found["audio_hash_mismatch"]
    assert not any("t-good" in found.get(check, set()) for check in FILE_CHECKS)


@pytest.mark.parametrize("stored, why", [
    ("../../../../etc/passwd", "'..'"),
    ("audio/../../outside.wav", "'..'"),
    ("/etc/passwd", "absolute"),
    ("C:/Windows/win.ini", "absolute"),
    ("\\\\server\\share\\x.wav", "absolute"),
    ("audio/t-good.wav", None),
    ("audio/not-there-yet.wav", None),
])
def test_audio_path_outside_is_a_pure_path_check(tmp_path: Path, stored: str, why: str | None) -> None:
    reason = audio_path_outside(tmp_path, stored)
    assert (reason is None) if why is None else (reason is not None and why in reason)


def _audit_in_memory(root: Path, rows: list[dict[str, Any]]) -> AuditInput:
    """An audit input built without the manifest reader, which may refuse such paths on its own."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    tables = {"downloads": {name: [row.get(name) for row in rows] for name in names}}
    inp = AuditInput(primary=("downloads", root / "manifests" / "downloads.csv"), folder=root / "manifests",
                     root=root, tables=tables, paths={}, taxonomy=load_taxonomy(None), overrides=Overrides())
    inp.view = join_view(tables)
    return inp


def test_paths_out_of_the_data_folder_are_flagged_and_never_opened(tmp_path: Path, spy: Spy
                                                                   ) -> None:
    root = tmp_path / "data"
    secret = tmp_path / "secret.wav"
    sf.write(secret, _tone(SECONDS), 16000, subtype="PCM_16")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "audio").mkdir(parents=True)
    (root / "audio" / "t-link.wav").symlink_to(secret)
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    sf.write(root / "audio" / "t-inside.wav", _tone(SECONDS), 16000, subtype="PCM_16")
    (root / "audio" / "t-alias.wav").symlink_to(root / "audio" / "t-inside.wav")  # a link that stays inside
    paths = {"t-dotdot": "../" * 4 + "etc/passwd", "t-absolute": str(secret), "t-link": "audio/t-link.wav",
             "t-linked-dir": "linked/x.wav", "t-inside": "audio/t-inside.wav", "t-alias": "audio/t-alias.wav"}
    rows = [{"track_id": tid, "status": "ok", "audio_path": stored, "sample_rate": 16000,
             "audio_duration_s": SECONDS} for tid, stored in paths.items()]
    spy.arm()
    section = check_audio(_audit_in_memory(root, rows), AuditOptions(plots=False))
    found = _found(section.findings)
    assert found["audio_path_outside"] == {"t-dotdot", "t-absolute", "t-link", "t-linked-dir"}
    assert set(found) == {"audio_path_outside"}
    assert section.data["outside"] == 4 and section.data["checked"] == 2
    opened = {Path(name).resolve() for name in spy.read}
    assert opened == {root.resolve() / "audio" / "t-inside.wav"}
    detail = next(f.detail for f in section.findings if f.track_id == "t-link")
    assert "symbolic link" in detail and "not opened" in detail


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_odd_entries_where_a_file_should_be_are_flagged_without_hanging(tmp_path: Path) -> None:
    """A named pipe would block a plain open until a writer came; a folder or an unreadable file is no WAV."""
    root = tmp_path / "data"
    (root / "audio" / "t-folder.wav").mkdir(parents=True)
    os.mkfifo(root / "audio" / "t-pipe.wav")
    sf.write(root / "audio" / "t-locked.wav", _tone(SECONDS), 16000, subtype="PCM_16")
    (root / "audio" / "t-locked.wav").chmod(0)
    sf.write(root / "audio" / "t-fine.wav", _tone(SECONDS), 16000, subtype="PCM_16")
    rows = [{"track_id": tid, "status": "ok", "audio_path": f"audio/{tid}.wav", "sample_rate": 16000,
             "audio_duration_s": SECONDS} for tid in ("t-folder", "t-pipe", "t-locked", "t-fine")]
    section = check_audio(_audit_in_memory(root, rows), AuditOptions(plots=False))
    found = _found(section.findings)
    assert found["audio_file_missing"] >= {"t-folder", "t-pipe"}
    if os.geteuid() != 0:  # root reads a file whatever its mode
        assert "t-locked" in found["audio_file_missing"]
        assert "cannot be read" in next(f.detail for f in section.findings if f.track_id == "t-locked")
    assert all("t-fine" not in ids for ids in found.values())


def test_a_symlink_out_of_the_folder_through_the_real_reader(tmp_path: Path, spy: Spy) -> None:
    """End to end: a link inside ``audio/`` passes any manifest reader, the audit still does not follow it."""
    layout = _build(tmp_path / "data")
    secret = tmp_path / "secret.wav"
    secret.write_bytes((layout.audio / "t-good.wav").read_bytes())
    (layout.audio / "t-good.wav").unlink()
    (layout.audio / "t-good.wav").symlink_to(secret)
    spy.arm()
    result = run_audit(layout.manifests, options=AuditOptions(plots=False))
    assert _found(result.findings)["audio_path_outside"] == {"t-good"}
    assert str(secret) not in spy.read and not any(Path(n).resolve() == secret for n in spy.read)
