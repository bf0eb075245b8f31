"""The hand-edited overrides file: manual review decisions every stage honours.

Stages do not parse the file themselves; they ask an :class:`Overrides` object
("is this track dropped?", "which genres did the user set?", "which video is
pinned?").  Rows apply in file order, so a later row wins over an earlier one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import codec
from .io import ManifestError, read_table
from .schema import OVERRIDES, YOUTUBE_ID_PATTERN

_VIDEO = re.compile(rf"(?:{YOUTUBE_ID_PATTERN})\Z")


@dataclass
class TrackOverride:
    """Everything the overrides file says about one track."""

    dropped: bool = False
    drop_note: str = ""
    set_genres: dict[str, float] | None = None
    add_genres: list[str] = field(default_factory=list)
    remove_genres: list[str] = field(default_factory=list)
    pinned_video: str | None = None
    forbidden_videos: set[str] = field(default_factory=set)


@dataclass
class Overrides:
    """Parsed overrides, looked up by track_id."""

    by_track: dict[str, TrackOverride] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def load(cls, path: Path | str, known_genres: frozenset[str] | set[str] | None = None) -> Overrides:
        """Read the file (a missing file means no overrides) and check every value."""
        path = Path(path)
        rows = read_table(path, OVERRIDES, missing_ok=True)
        out = cls(path=path)
        for index, row in enumerate(rows, start=1):
            over = out.by_track.setdefault(row["track_id"], TrackOverride())
            action, value = row["action"], (row["value"] or "").strip()

            def bad(problem: str, _index: int = index) -> ManifestError:
                return ManifestError(path, problem, row=_index, column="value")

            def genre(name: str, _action: str = action) -> str:
                if not name:
                    raise bad(f"{_action} needs a genre in 'value'")
                if known_genres is not None and name not in known_genres:
                    raise bad(f"unknown genre {name!r} (not in the taxonomy)")
                return name

            if action == "drop":
                over.dropped, over.drop_note = True, row["note"] or "dropped by override"
            elif action == "set_genres":
                try:
                    genres = codec.decode_floatmap(value) if "=" in value else {
                        g: 1.0 for g in codec.decode_list(value)}
                except codec.CodecError as exc:
                    raise bad(f"set_genres value: {exc}") from None
                if not genres:
                    raise bad("set_genres needs at least one genre, like 'rock=1; blues=0.5'")
                for name, weight in genres.items():
                    genre(name)
                    if not 0.0 <= weight <= 1.0:
                        raise bad(f"weight {weight:g} for {name!r} is outside [0, 1]")
                over.set_genres = genres
            elif action == "add_genre":
                over.add_genres.append(genre(value))
            elif action == "remove_genre":
                over.remove_genres.append(genre(value))
            elif action in ("pin_video", "forbid_video"):
                if not _VIDEO.match(value):
                    raise bad(f"{value!r} is not a YouTube video ID (11 characters)")
                if action == "pin_video":
                    over.pinned_video = value
                else:
                    over.forbidden_videos.add(value)
        return out

    def get(self, track_id: str) -> TrackOverride:
        return self.by_track.get(track_id) or TrackOverride()

    def is_dropped(self, track_id: str) -> bool:
        return self.get(track_id).dropped

    def __len__(self) -> int:
        return len(self.by_track)
