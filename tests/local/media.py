"""Real audio files for the import tests: tones encoded by ffmpeg, tagged with mutagen, or broken on purpose.

Everything is generated (a few seconds of sine per file), so the tests need nothing but the
ffmpeg the toolkit already uses. Each builder returns the path it wrote.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from manifests.audio import ffmpeg_exe

CODECS = {"mp3": ["-c:a", "libmp3lame", "-b:a", "64k"], "flac": ["-c:a", "flac"],
          "ogg": ["-c:a", "libvorbis", "-q:a", "0"], "opus": ["-c:a", "libopus", "-b:a", "32k"],
          "m4a": ["-c:a", "aac", "-b:a", "64k"], "wav": ["-c:a", "pcm_s16le"], "au": ["-c:a", "pcm_s16be"]}


def tone(path: Path, seconds: float = 3.0, freq: float = 440.0, *, id3: bool = False) -> Path:
    """A sine of ``seconds`` in the format the suffix names; no tags unless ``id3`` (ffmpeg's own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix[1:]
    extra = [] if id3 or ext != "mp3" else ["-id3v2_version", "0"]
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"sine=frequency={freq}:duration={seconds}", "-ac", "1",
                    "-ar", "48000" if ext == "opus" else "22050",
                    *CODECS[ext], "-map_metadata", "-1", "-fflags", "+bitexact", *extra, str(path)],
                   check=True, capture_output=True)
    return path


def id3(path: Path, version: int, *, title: str | None = None, artists: list[str] | None = None,
        album: str | None = None, genres: list[str] | None = None, isrc: str | None = None,
        mbid: str | None = None, year: str | None = None, latin1: bool = False) -> Path:
    """Write an ID3v2.``version`` tag (3 or 4); ``latin1`` declares every text frame Latin-1."""
    from mutagen.id3 import ID3, TALB, TCON, TDRC, TIT2, TPE1, TSRC, UFID

    enc = 0 if latin1 else (1 if version == 3 else 3)
    tags = ID3()
    if title is not None:
        tags.add(TIT2(encoding=enc, text=[title]))
    if artists:
        tags.add(TPE1(encoding=enc, text=artists))
    if album is not None:
        tags.add(TALB(encoding=enc, text=[album]))
    if genres:
        tags.add(TCON(encoding=enc, text=genres))
    if isrc:
        tags.add(TSRC(encoding=enc, text=[isrc]))
    if year:
        tags.add(TDRC(encoding=enc, text=[year]))
    if mbid:
        tags.add(UFID(owner="http://musicbrainz.org", data=mbid.encode()))
    tags.save(str(path), v2_version=version)
    return path


def id3v1_only(path: Path, genre_code: int, title: str = "Old Tag", artist: str = "V1 Band") -> Path:
    """Append a bare 128-byte ID3v1.1 block (the genre is a number) to a file without any ID3v2 tag."""
    def field(text: str, size: int) -> bytes:
        return text.encode("latin-1")[:size].ljust(size, b"\0")

    block = b"TAG" + field(title, 30) + field(artist, 30) + field("", 30) + b"1999" + field("", 28) + b"\0\x01" \
        + bytes([genre_code])
    assert len(block) == 128
    with open(path, "ab") as handle:
        handle.write(block)
    return path


def vorbis(path: Path, **fields: list[str] | str) -> Path:
    """Vorbis comments (FLAC, Ogg Vorbis, Opus) or MP4 atoms, by the file's kind; values as given."""
    import mutagen

    audio = mutagen.File(str(path))
    assert audio is not None, path
    if audio.tags is None:
        audio.add_tags()
    for key, value in fields.items():
        audio.tags[key] = value if isinstance(value, list) else [value]
    audio.save()
    return path


def replace_bytes(path: Path, old: bytes, new: bytes) -> Path:
    """Swap bytes of equal length inside a file (to plant an encoding error a tagger would not write)."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert data.count(old) == 1, (path, old)
    path.write_bytes(data.replace(old, new))
    return path


def truncate(path: Path, share: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * share)])
    return path
