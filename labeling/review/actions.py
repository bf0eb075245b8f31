"""Review decisions written to ``overrides.csv``, each undoable, each marking its track reviewed.

Why this shape:

* ``overrides.csv`` is the one place every stage reads manual decisions from (see
  :mod:`manifests.overrides`), so the app writes exactly its actions (drop, set_genres,
  add_genre, remove_genre, pin_video, forbid_video) and nothing else. The file is the user's:
  rows keep their order (later rows win), hand-written rows are never reordered, and a write
  replaces the file atomically while holding the data folder's lock, so it never meets a
  half-written file or a concurrent ``make labels``.
* A decision that contradicts an earlier row of the same track (``add_genre rock`` after
  ``remove_genre rock``, ``pin_video X`` after ``forbid_video X``, a second ``set_genres``)
  removes that row, since resolve applies removals after additions whatever their order.
* "Accept" writes no override: it only marks the track reviewed. Reviewed markers live in
  ``DATA/reports/review/reviewed.csv`` (track_id, decision, reviewed_at); the undo journal in
  ``DATA/reports/review/undo.json`` (so undo works after a restart too).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

from manifests import codec
from manifests.clock import utc_now_text
from manifests.errors import UserError
from manifests.io import atomic_write_text, encode_cell, read_table
from manifests.layout import Layout
from manifests.lock import data_folder_lock
from manifests.schema import OVERRIDE_ACTIONS, OVERRIDES, TRACK_ID_PATTERN, YOUTUBE_ID_PATTERN

from .data import REVIEW_DIR, REVIEWED_HEADER, REVIEWED_NAME

log = logging.getLogger(__name__)

#: What the app can do: the override actions, and accept (reviewed, no override).
ACTIONS = ("accept", *OVERRIDE_ACTIONS)
UNDO_NAME = "undo.json"
#: How many decisions undo can step back through.
UNDO_DEPTH = 200

_VIDEO = re.compile(rf"(?:{YOUTUBE_ID_PATTERN})\Z")
_TRACK = re.compile(rf"(?:{TRACK_ID_PATTERN})\Z")
#: A new row of the first action removes the track's rows of the second with the same value.
_CONTRADICTS = {"add_genre": "remove_genre", "remove_genre": "add_genre",
                "pin_video": "forbid_video", "forbid_video": "pin_video"}

Row = dict[str, Any]


class ActionError(UserError):
    """A decision that cannot be written as asked (bad action or value): HTTP 400."""


def _key(row: Row) -> tuple[str, str, str]:
    return row["track_id"], row["action"], row.get("value") or ""


def render_overrides(rows: list[Row]) -> str:
    """The overrides file's text with rows in the given order (the file applies them in order)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OVERRIDES.header)
    for row in rows:
        writer.writerow([encode_cell(col, row.get(col.name)) for col in OVERRIDES.columns])
    return out.getvalue()


class Reviewer:
    """Applies and undoes review decisions on one data folder."""

    def __init__(self, layout: Layout, known_genres: frozenset[str]) -> None:
        self.layout = layout
        self.known_genres = known_genres
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        return self.layout.root.joinpath(*REVIEW_DIR)

    # ------------------------------------------------------------ checking

    def normalise(self, action: str, value: str) -> str:
        """The value as the overrides file stores it; ``ActionError`` names what is wrong."""
        value = (value or "").strip()
        if action not in ACTIONS:
            raise ActionError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
        if action in ("accept", "drop"):
            if value:
                raise ActionError(f"{action} takes no value")
            return ""
        if action == "set_genres":
            try:
                genres = codec.decode_floatmap(value) if "=" in value else {g: 1.0 for g in codec.decode_list(value)}
            except codec.CodecError as exc:
                raise ActionError(f"set_genres value {value!r}: {exc}") from None
            if not genres:
                raise ActionError("set_genres needs at least one genre, like 'rock=1; blues=0.5'")
            for name, weight in genres.items():
                self._genre(name)
                if not 0.0 <= weight <= 1.0:
                    raise ActionError(f"weight {weight:g} for {name!r} is outside [0, 1]")
            return codec.encode_floatmap(genres, decimals=3)
        if action in ("add_genre", "remove_genre"):
            return self._genre(value)
        if not _VIDEO.match(value):
            raise ActionError(f"{value!r} is not a YouTube video ID (11 characters)")
        return value

    def _genre(self, name: str) -> str:
        if not name:
            raise ActionError("a genre is needed")
        if name not in self.known_genres:
            raise ActionError(f"unknown genre {name!r} (not in the taxonomy)")
        return name

    # ------------------------------------------------------------ files

    def _read_overrides(self) -> list[Row]:
        return read_table(self.layout.overrides, OVERRIDES, missing_ok=True)

    def _write_overrides(self, rows: list[Row]) -> None:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.layout.overrides, render_overrides(rows))

    def _read_reviewed(self) -> dict[str, tuple[str, str]]:
        path = self.folder / REVIEWED_NAME
        if not path.exists():
            return {}
        with open(path, encoding="utf-8", newline="") as handle:
            return {r["track_id"]: (r.get("decision") or "", r.get("reviewed_at") or "")
                    for r in csv.DictReader(handle) if r.get("track_id")}

    def _write_reviewed(self, reviewed: dict[str, tuple[str, str]]) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(REVIEWED_HEADER)
        for track_id in sorted(reviewed):
            writer.writerow([track_id, *reviewed[track_id]])
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.folder / REVIEWED_NAME, out.getvalue())

    def journal(self) -> list[dict[str, Any]]:
        path = self.folder / UNDO_NAME
        if not path.exists():
            return []
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s); undo starts afresh", path, exc)
            return []
        return entries if isinstance(entries, list) else []

    def _write_journal(self, entries: list[dict[str, Any]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.folder / UNDO_NAME, json.dumps(entries[-UNDO_DEPTH:], indent=1) + "\n")

    # ------------------------------------------------------------ decisions

    def apply(self, track_id: str, action: str, value: str = "", note: str = "") -> dict[str, Any]:
        """Write one decision; returns its journal entry (what was added and removed)."""
        if not _TRACK.match(track_id or ""):
            raise ActionError(f"{track_id!r} is not a track ID")
        value = self.normalise(action, value)
        note = " ".join((note or "").split())[:500]
        with self._lock, data_folder_lock(self.layout.root, "labeling review"):
            rows = self._read_overrides()
            removed: list[tuple[int, Row]] = []
            added: Row | None = None
            if action != "accept":
                new: Row = {"track_id": track_id, "action": action, "value": value or None,
                            "note": note or "review"}
                for index, row in enumerate(rows):
                    if row["track_id"] != track_id:
                        continue
                    if (action == "set_genres" and row["action"] == "set_genres") or (
                            _CONTRADICTS.get(action) == row["action"] and (row["value"] or "") == value):
                        removed.append((index, row))
                kept = [r for i, r in enumerate(rows) if i not in {i for i, _ in removed}]
                if all(_key(r) != _key(new) for r in kept):
                    added = new
                    kept.append(new)
                if added is not None or removed:
                    self._write_overrides(kept)
            reviewed = self._read_reviewed()
            before = reviewed.get(track_id)
            reviewed[track_id] = (action, utc_now_text())
            self._write_reviewed(reviewed)
            entry = {"track_id": track_id, "action": action, "value": value, "added": added,
                     "removed": [[i, r] for i, r in removed], "reviewed_before": list(before) if before else None}
            self._write_journal([*self.journal(), entry])
        log.info("review: %s %s %s", track_id, action, value)
        return entry

    def undo(self) -> dict[str, Any] | None:
        """Take back the last decision (its override rows and its reviewed marker); None when none is left."""
        with self._lock, data_folder_lock(self.layout.root, "labeling review"):
            entries = self.journal()
            if not entries:
                return None
            entry = entries.pop()
            rows = self._read_overrides()
            changed = False
            added = entry.get("added")
            if added:
                for index in range(len(rows) - 1, -1, -1):
                    if _key(rows[index]) == _key(added):
                        del rows[index]
                        changed = True
                        break
            for index, row in sorted(entry.get("removed") or [], key=lambda pair: pair[0]):
                if all(_key(r) != _key(row) for r in rows):
                    rows.insert(min(index, len(rows)), row)
                    changed = True
            if changed:
                self._write_overrides(rows)
            reviewed = self._read_reviewed()
            before = entry.get("reviewed_before")
            if before:
                reviewed[entry["track_id"]] = (before[0], before[1])
            else:
                reviewed.pop(entry["track_id"], None)
            self._write_reviewed(reviewed)
            self._write_journal(entries)
        log.info("review: undid %s %s", entry["track_id"], entry["action"])
        return entry
