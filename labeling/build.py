"""Build the training manifest: tracks + labels + downloads + splits, usable rows only.

A track is kept when, checked in this order (the first failing check is its
exclusion reason):

1. ``dropped``      not dropped (by overrides.csv now, or when labels were resolved);
2. ``no_labels``    it has a labels row (rerun ``python -m labeling resolve`` after collecting);
3. ``unlabeled``    the labels row has at least one genre;
4. ``ambiguous``    status ok, or ambiguous with at least one genre >= the multi-label
                    threshold (such rows keep an empty top_genre: usable multi-label, skipped by
                    a single-label trainer);
5. ``no_download`` / ``download_<status>``  the downloads row exists with status ok;
6. ``audio_incomplete`` the ok row names audio_path, sample_rate and audio_duration_s;
7. ``audio_missing``    that file exists in the data folder (unless the check is skipped);
8. ``no_split``     it has a splits row.

Audio paths stay relative to the data folder, so the folder can move.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests.errors import UserError
from manifests.io import Row, atomic_write_text, gc_paused, read_columns, write_table
from manifests.layout import Layout
from manifests.overrides import Overrides
from manifests.schema import DOWNLOADS, LABELS, SPLITS_TABLE, TRACKS, TRAINING, Table

from .audit.export import render_spreadsheet_csv
from .resolve import DEFAULT_THRESHOLD, multi_label
from .taxonomy import Taxonomy

log = logging.getLogger(__name__)

#: Exclusion reasons in the order they are checked.
REASONS = ("dropped", "no_labels", "unlabeled", "ambiguous", "no_download", "download_no_match",
           "download_failed", "download_skipped", "audio_incomplete", "audio_missing", "no_split")


@dataclass
class BuildSummary:
    rows: int = 0
    tracks: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    per_split: Counter[str] = field(default_factory=Counter)
    per_genre: Counter[str] = field(default_factory=Counter)  # top genre; "(ambiguous)" for multi-label-only rows
    orphans: Counter[str] = field(default_factory=Counter)  # table -> rows whose track is not in tracks

    def as_dict(self) -> dict[str, Any]:
        return {"tracks": self.tracks, "rows": self.rows,
                "excluded": {r: self.excluded[r] for r in REASONS if self.excluded[r]},
                "per_split": dict(sorted(self.per_split.items())),
                "per_genre": dict(self.per_genre.most_common()), "orphans": dict(sorted(self.orphans.items()))}

    def format(self) -> str:
        lines = [f"training manifest: {self.rows} of {self.tracks} tracks kept"]
        if self.per_split:
            lines.append("  per split: " + ", ".join(f"{s} {n}" for s, n in sorted(self.per_split.items())))
        if self.per_genre:
            lines.append("  per top genre: " + ", ".join(f"{g} {n}" for g, n in self.per_genre.most_common()))
        excluded = [(r, self.excluded[r]) for r in REASONS if self.excluded[r]]
        lines.append("  excluded: " + (", ".join(f"{r} {n}" for r, n in excluded) if excluded else "none"))
        for table, n in sorted(self.orphans.items()):
            lines.append(f"  ignored {n} {table} rows whose track is not in the tracks table")
        return "\n".join(lines)


def exclusion(track_id: str, label: Mapping[str, Any] | None, download: Mapping[str, Any] | None,
              split: Mapping[str, Any] | None, overrides: Overrides, threshold: float,
              audio_exists: Callable[[str], bool] | None = None) -> tuple[str, str] | None:
    """Why a track cannot be trained on, as (reason, detail), or None when it is usable."""
    # by_track first: most tracks have no override, and is_dropped makes an empty one for each
    if (track_id in overrides.by_track and overrides.is_dropped(track_id)) or (
            label is not None and label["status"] == "dropped"):
        note = overrides.get(track_id).drop_note or (label or {}).get("reason") or ""
        return "dropped", note
    if label is None:
        return "no_labels", "no labels row; rerun python -m labeling resolve"
    if label["status"] == "unlabeled" or not label["genres"]:
        return "unlabeled", label.get("reason") or "no genres"
    if label["status"] == "ambiguous" and not multi_label(label["genres"], threshold):
        return "ambiguous", f"{label.get('reason') or 'ambiguous'}; no genre reaches {threshold:g}"
    if download is None:
        return "no_download", "no downloads row"
    if download["status"] != "ok":
        return f"download_{download['status']}", download.get("reason") or ""
    if download.get("audio_path") is None or download.get("sample_rate") is None or (
            download.get("audio_duration_s") is None):
        missing = [c for c in ("audio_path", "sample_rate", "audio_duration_s") if download.get(c) is None]
        return "audio_incomplete", f"downloads row has no {', '.join(missing)}"
    if audio_exists is not None and not audio_exists(download["audio_path"]):
        return "audio_missing", f"{download['audio_path']} does not exist"
    if split is None:
        return "no_split", "no splits row; run python -m labeling split"
    return None


def build_rows(tracks: Iterable[Mapping[str, Any]], labels: Iterable[Mapping[str, Any]],
               downloads: Iterable[Mapping[str, Any]], splits: Iterable[Mapping[str, Any]],
               overrides: Overrides | None = None, threshold: float = DEFAULT_THRESHOLD,
               audio_exists: Callable[[str], bool] | None = None) -> tuple[list[Row], list[tuple[str, str, str]], BuildSummary]:
    """Join the tables. Returns (training rows, excluded (track_id, reason, detail), summary).

    ``audio_exists(relative_path) -> bool`` checks files; None skips the check.
    """
    overrides = overrides or Overrides()
    tracks = list(tracks)
    ids = {t["track_id"] for t in tracks}
    summary = BuildSummary(tracks=len(tracks))
    indexed: dict[str, dict[str, Mapping[str, Any]]] = {}
    for name, rows in (("labels", labels), ("downloads", downloads), ("splits", splits)):
        by_track: dict[str, Mapping[str, Any]] = {}
        for row in rows:
            if row["track_id"] in ids:
                by_track[row["track_id"]] = row
            else:
                summary.orphans[name] += 1
        indexed[name] = by_track
    labels_by, downloads_by, splits_by = indexed["labels"], indexed["downloads"], indexed["splits"]
    out: list[Row] = []
    excluded: list[tuple[str, str, str]] = []
    for track in tracks:
        tid = track["track_id"]
        label, download, split = labels_by.get(tid), downloads_by.get(tid), splits_by.get(tid)
        why = exclusion(tid, label, download, split, overrides, threshold, audio_exists)
        if why is not None:
            summary.excluded[why[0]] += 1
            excluded.append((tid, why[0], why[1]))
            continue
        assert label is not None and download is not None and split is not None
        out.append({
            "track_id": tid,
            "title": track["title"],
            "artists": track["artists"],
            "isrc": track.get("isrc"),
            "genres": label["genres"],
            "top_genre": label.get("top_genre"),
            "split": split["split"],
            "audio_path": download["audio_path"],
            "sample_rate": download["sample_rate"],
            "audio_duration_s": download["audio_duration_s"],
            "sha256": download.get("sha256"),
            "youtube_id": download.get("youtube_id"),
            "match_score": download.get("match_score"),
        })
        summary.per_split[split["split"]] += 1
        summary.per_genre[label.get("top_genre") or "(ambiguous)"] += 1
    summary.rows = len(out)
    for table, n in summary.orphans.items():
        log.warning("%d %s rows name tracks that are not in the tracks table; ignored", n, table)
    return out, excluded, summary


#: A folder is listed once it has been asked about this often: a folder of audio files is listed in a
#: few system calls, but listing a folder per track (or a big folder asked about once) would cost more
#: than looking at the files one by one.
LIST_AFTER = 8


#: The cells :func:`build_rows` (with :func:`exclusion`) reads from each table's rows.
USED_COLUMNS: dict[str, tuple[str, ...]] = {
    TRACKS.name: ("track_id", "title", "artists", "isrc"),
    LABELS.name: ("track_id", "status", "reason", "genres", "top_genre"),
    DOWNLOADS.name: ("track_id", "status", "reason", "audio_path", "sample_rate", "audio_duration_s", "sha256",
                     "youtube_id", "match_score"),
    SPLITS_TABLE.name: ("track_id", "split"),
}


def read_used(path: Path, table: Table, *, known_genres: Iterable[str] | None = None) -> list[Row]:
    """The rows of a table with the cells build uses (:data:`USED_COLUMNS`), every cell checked.

    Read as columns, with the same checks and errors as ``read_table``: a dict of every cell per
    row (20 for a download) was a third of build's reading at 100,000 tracks.
    """
    names = USED_COLUMNS[table.name]
    columns = read_columns(path, table, known_genres=known_genres)
    return [dict(zip(names, cells, strict=True)) for cells in zip(*(columns[name] for name in names), strict=True)]


def audio_file_exists(layout: Layout) -> Callable[[str], bool]:
    """``layout.resolve(stored).is_file()``, mostly answered from one listing per folder.

    One ``lstat`` (behind a ``Path``) per file was most of what build spent on 100,000 tracks
    besides reading and writing tables. A folder asked about often (:data:`LIST_AFTER`) is listed
    with ``os.scandir``, whose entries say which are plain files; a plain file in the listing of a
    plain folder (neither it nor a folder above it inside the data folder is a symbolic link)
    needs nothing more. Everything else goes the way it always went (:func:`_file_exists`): a
    name missing from the listing (written in another case or Unicode form, made since), a
    symbolic link, a path that is not plain ``folder/name`` text.
    """
    exact = _file_exists(layout)
    asked: Counter[str] = Counter()
    listings: dict[str, dict[str, os.DirEntry[str]] | None] = {}

    def listing(prefix: str) -> dict[str, os.DirEntry[str]] | None:
        """The entries of the folder ``prefix`` names ("" or "a/b/"), when it is a plain folder and readable."""
        parts = prefix[:-1].split("/") if prefix else []
        if any(part in ("", ".", "..") for part in parts):  # "/x", "a//x", "./x": left to Path's reading
            return None
        folder = layout.root.joinpath(*parts)
        if any(p.is_symlink() for p in (folder, *folder.parents) if p.is_relative_to(layout.root)):
            return None
        try:
            with os.scandir(folder) as entries:
                return {entry.name: entry for entry in entries}
        except (OSError, ValueError):  # unreadable, or a name the system refuses: each file says for itself
            return None

    def exists(stored: str) -> bool:
        name = stored.rpartition("/")[2]
        if name in ("", ".", ".."):  # "a/", "a/.": not a file name; left to Path's reading
            return exact(stored)
        prefix = stored[:len(stored) - len(name)]
        entries = listings.get(prefix)
        if entries is None and prefix not in listings:
            asked[prefix] += 1
            if asked[prefix] >= LIST_AFTER:
                entries = listings[prefix] = listing(prefix)
        if entries is not None:
            entry = entries.get(name)
            if entry is not None and not entry.is_symlink():
                return entry.is_file(follow_symlinks=False)
        return exact(stored)

    return exists


def _file_exists(layout: Layout) -> Callable[[str], bool]:
    """``layout.resolve(stored).is_file()``, with one ``lstat`` per file instead of one per path component.

    A folder is looked at once (is it, or any folder above it inside the data folder, a symbolic
    link?); a plain file in a plain folder needs nothing more. Links take the exact path, which
    refuses a link that leads out of the data folder.
    """
    plain: dict[Path, bool] = {}

    def exists(stored: str) -> bool:
        path = layout.root / stored
        folder = path.parent
        known = plain.get(folder)
        if known is None:
            known = plain[folder] = not any(p.is_symlink() for p in (folder, *folder.parents)
                                            if p.is_relative_to(layout.root))
        if known:
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                return False
            if not stat.S_ISLNK(mode):
                return stat.S_ISREG(mode)
        return layout.resolve(stored).is_file()

    return exists


def excluded_csv(excluded: Iterable[tuple[str, str, str]]) -> str:
    """``track_id, reason, detail`` per excluded track, safe to open in a spreadsheet (see audit.export)."""
    return render_spreadsheet_csv(("track_id", "reason", "detail"), sorted(excluded), lineterminator="\n")


def run_build(layout: Layout, taxonomy: Taxonomy, *, threshold: float = DEFAULT_THRESHOLD,
              check_audio: bool = True) -> BuildSummary:
    """Read the four stage tables and overrides; write the training manifest and its reports."""
    if not 0.0 < threshold <= 1.0:
        raise UserError(f"--multi-threshold {threshold:g}: must be above 0 and at most 1")
    with gc_paused():
        tracks = read_used(layout.table_path(TRACKS), TRACKS)
        labels_path = layout.table_path(LABELS)
        labels = read_used(labels_path, LABELS, known_genres=taxonomy.genres)
        downloads = read_used(layout.table_path(DOWNLOADS), DOWNLOADS)
        splits = read_used(layout.table_path(SPLITS_TABLE), SPLITS_TABLE)
        overrides = Overrides.load(layout.overrides, known_genres=taxonomy.genres)
        if layout.overrides.is_file() and layout.overrides.stat().st_mtime > labels_path.stat().st_mtime:
            log.warning("%s changed after %s was written: drops apply now, genre edits only after "
                        "`python -m labeling resolve`", layout.overrides, labels_path)

        rows, excluded, summary = build_rows(tracks, labels, downloads, splits, overrides, threshold,
                                             audio_file_exists(layout) if check_audio else None)
        path = layout.table_path("training")
        write_table(path, TRAINING, rows, known_genres=taxonomy.genres)
        atomic_write_text(layout.reports / "build_excluded.csv", excluded_csv(excluded))
        report = {**summary.as_dict(), "multi_threshold": threshold, "taxonomy": taxonomy.source}
        atomic_write_text(layout.reports / "build_summary.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        log.info("wrote %s (%d rows); excluded rows listed in %s", path, len(rows), layout.reports / "build_excluded.csv")
        return summary
