"""The walk: a stable order, every audio candidate once, and a reason for everything it leaves."""

from __future__ import annotations

import os
from pathlib import Path

from collectors.local.walk import Found, Skipped, display_path, walk


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_order_extensions_hidden_files_loops_and_broken_links(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    _touch(lib / "b" / "2.flac")
    _touch(lib / "b" / "1.MP3")
    _touch(lib / "a" / "song.ogg")
    _touch(lib / "a" / "cover.jpg")
    _touch(lib / ".hidden" / "x.mp3")
    _touch(lib / "a" / "._song.ogg")
    (lib / "a" / "up").symlink_to("..")  # a folder loop
    (lib / "a" / "l1.mp3").symlink_to("l2.mp3")  # a file link loop
    (lib / "a" / "l2.mp3").symlink_to("l1.mp3")
    (lib / "a" / "gone.mp3").symlink_to("nowhere.mp3")
    (lib / "b" / "again").symlink_to(lib / "a")  # the same folder a second way
    items = list(walk([lib]))
    found = [(i.path.relative_to(lib).as_posix(), i.folders) for i in items if isinstance(i, Found)]
    assert found == [("a/song.ogg", ("a",)), ("b/1.MP3", ("b",)), ("b/2.flac", ("b",))]
    skipped = {i.path.relative_to(lib).as_posix(): (i.kind, i.reason) for i in items if isinstance(i, Skipped)}
    assert skipped["a/cover.jpg"][0] == "ignored"
    assert skipped["a/up"][0] == "loop" and skipped["b/again"][0] == "loop"
    assert skipped["a/l1.mp3"][0] == "loop" and "loop" in skipped["a/l1.mp3"][1]
    assert skipped["a/gone.mp3"] == ("unreadable", "a broken symbolic link (its target does not exist)")
    assert not any(".hidden" in p or "._song" in p for p in skipped)


def test_all_files_single_files_and_the_data_folder(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    _touch(lib / "weird.bin")
    _touch(lib / "data" / "audio" / "t1.wav")
    song = _touch(tmp_path / "one.mp3")
    items = list(walk([lib, song], all_files=True, skip=[lib / "data"]))
    assert [i.path for i in items if isinstance(i, Found)] == [lib / "weird.bin", song]
    assert [i.reason for i in items if isinstance(i, Skipped)] == ["the data folder itself (never imported)"]
    assert [i.folders for i in items if isinstance(i, Found)] == [(), ()]


def test_file_names_that_are_not_utf8(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.mp3")
    _touch(tmp_path / name)
    (found,) = [i for i in walk([tmp_path]) if isinstance(i, Found)]
    assert display_path(found.path).endswith("caf\\xe9.mp3")
    display_path(found.path).encode("utf-8")  # fits a UTF-8 manifest
