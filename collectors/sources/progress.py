"""Which (source, track) pairs are done, so a rerun skips them (``cache/labels/progress.json``).

A pair is done when the lookup succeeded, with claims ("ok") or without ("none").
"none" is redone when the source's fingerprint changed (e.g. new saved RateYourMusic
pages); "error" is always redone.  The file is rewritten atomically.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from manifests import atomic_write_text
from manifests.clock import utc_now_text

log = logging.getLogger(__name__)

VERSION = 1
STATUSES = ("ok", "none", "error")


class Progress:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, dict[str, Any]]] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("%s: unreadable (%s); every track will be looked up again", path, exc)
                data = {}
            if data.get("version") == VERSION and isinstance(data.get("sources"), dict):
                self.entries = data["sources"]
            elif data:
                log.warning("%s: written by another toolkit version; every track will be looked up again", path)

    def get(self, source: str, track_id: str) -> dict[str, Any] | None:
        return self.entries.get(source, {}).get(track_id)

    def is_done(self, source: str, track_id: str, fingerprint: str = "") -> bool:
        entry = self.get(source, track_id)
        if not entry:
            return False
        if entry.get("status") == "ok":
            return True
        return entry.get("status") == "none" and entry.get("fingerprint", "") == fingerprint

    def mark(self, source: str, track_id: str, status: str, *, claims: int = 0, fingerprint: str = "",
             note: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        entry: dict[str, Any] = {"status": status, "claims": claims,
                                 "at": utc_now_text()}
        if fingerprint:
            entry["fingerprint"] = fingerprint
        if note:
            entry["note"] = note[:300]
        self.entries.setdefault(source, {})[track_id] = entry

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps({"version": VERSION, "sources": self.entries}, indent=1,
                                                sort_keys=True, ensure_ascii=False))
