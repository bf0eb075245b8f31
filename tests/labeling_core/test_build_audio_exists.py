"""build's audio check answers from folder listings exactly what it answered file by file.

The file-by-file check (``_file_exists``, one ``lstat`` per file) is the reference; apart from
paths with a NUL character (which reading refuses) it is ``layout.resolve(path).is_file()``.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from labeling.build import LIST_AFTER, _file_exists, audio_file_exists
from manifests.errors import UserError
from manifests.layout import Layout


def _outcome(check: Callable[[str], bool], stored: str) -> object:
    try:
        return check(stored)
    except (UserError, OSError, ValueError) as exc:
        return type(exc).__name__, str(exc)


@pytest.fixture()
def layout(tmp_path: Path) -> Layout:
    root, outside = tmp_path / "data", tmp_path / "outside"
    audio = root / "audio"
    (audio / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "t00.wav").write_bytes(b"x")
    for i in range(LIST_AFTER + 4):
        (audio / f"t{i:02d}.wav").write_bytes(b"RIFF")
        (audio / "sub" / f"s{i:02d}.wav").write_bytes(b"RIFF")
    (audio / "dir.wav").mkdir()
    (audio / "link_in.wav").symlink_to(audio / "t00.wav")
    (audio / "link_out.wav").symlink_to(outside / "t00.wav")
    (audio / "broken.wav").symlink_to(audio / "nothing.wav")
    (audio / "link_dir.wav").symlink_to(audio / "dir.wav")
    os.mkfifo(audio / "fifo.wav")
    (audio / unicodedata.normalize("NFD", "é.wav")).write_bytes(b"RIFF")
    (root / "root.wav").write_bytes(b"RIFF")
    (root / "linked").symlink_to(audio)                       # a link to a folder inside the data folder
    (root / "escape").symlink_to(outside)                     # a link to a folder outside it
    return Layout.at(root)


STORED = ["audio/t00.wav", "audio/t11.wav", "audio//t00.wav", "audio/./t01.wav", "./audio/t02.wav", "audio/t00.wav/",
          "audio/", "audio/.", "audio", "audio/missing.wav", "AUDIO/t00.wav", "audio/T00.wav", "root.wav", "ROOT.wav",
          "audio/sub/s00.wav", "audio/sub/s99.wav", "audio/sub/", "audio/dir.wav", "audio/dir.wav/x",
          "audio/link_in.wav", "audio/link_out.wav", "audio/broken.wav", "audio/link_dir.wav", "audio/fifo.wav",
          "audio/é.wav", unicodedata.normalize("NFD", "audio/é.wav"), "linked/t00.wav", "linked/missing.wav",
          "linked/link_out.wav", "escape/t00.wav", "escape/none.wav", "nowhere/x.wav", "audio/t00.wav\x00",
          "audio\x00/x.wav", "audio/t0\\0.wav"]


def test_listed_folders_answer_as_the_exact_check(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    listed: list[str] = []
    scandir = os.scandir

    def counting(path: os.PathLike[str]) -> object:
        listed.append(os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    check, reference = audio_file_exists(layout), _file_exists(layout)
    for round_ in range(LIST_AFTER + 2):  # early rounds look file by file; later ones use the listings
        for stored in STORED if round_ % 2 else reversed(STORED):
            assert _outcome(check, stored) == _outcome(reference, stored), stored
            if "\x00" not in stored:
                assert _outcome(check, stored) == _outcome(lambda p: layout.resolve(p).is_file(), stored), stored
    assert str(layout.root / "audio") in listed and str(layout.root / "audio" / "sub") in listed
    assert not any("linked" in path or "escape" in path for path in listed)  # linked folders are never listed


def test_a_file_made_after_its_folder_was_listed_is_found(layout: Layout) -> None:
    check = audio_file_exists(layout)
    for _ in range(LIST_AFTER):
        assert check("audio/t00.wav")
    assert not check("audio/late.wav")
    (layout.root / "audio" / "late.wav").write_bytes(b"RIFF")
    assert check("audio/late.wav")


def test_a_folder_asked_about_rarely_is_not_listed(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "scandir", lambda path: pytest.fail(f"listed {path}"))
    check = audio_file_exists(layout)
    assert [check(f"audio/t{i:02d}.wav") for i in range(LIST_AFTER - 1)] == [True] * (LIST_AFTER - 1)
