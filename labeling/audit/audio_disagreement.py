"""Tracks whose audio disagrees with their labels, as ``python -m training audit-audio`` found them.

Why here: the audit is where a person reviewing a dataset looks, and this is the most
useful list they can get (a jazz record labelled metal is found by listening, not by
comparing metadata).  The comparison itself needs the pretrained model and lives in
``training`` (out-of-fold probe predictions and ``cleanlab``); it writes
:data:`CSV_NAME` into ``<data>/reports/audit/``, and this module only reads that file,
so labeling never imports training.  When the file is there, ``labeling audit`` lists
its tracks in ``report.md`` and adds each to ``flagged.csv`` with the check
:data:`CHECK` and the genre the audio sounds like; when it is not, the section says how
to make it.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Any

from .checks import AuditOptions, Section, describe, youtube_url
from .load import AuditInput

log = logging.getLogger(__name__)

#: The file ``training audit-audio`` writes, beside the audit report.
CSV_NAME = "audio_disagreement.csv"
#: Its columns, in order (``labels``: the given genres joined by ``; ``).
HEADER = ("rank", "track_id", "artist", "title", "labels", "suspected_genre", "suspected_score", "given_score",
          "label_quality", "split")
#: The check name in flagged.csv and the report's summary.
CHECK = "audio_disagrees"
SEVERITY = "warning"
MEANING = ("the audio sounds like another genre than its labels (out-of-fold predictions of a probe on "
           "pretrained embeddings; python -m training audit-audio)")
#: The report section's key.
KEY = "audio_labels"
TITLE = "Audio that disagrees with its labels"


def csv_path(root: Path) -> Path:
    """Where the audio comparison of the data folder ``root`` is."""
    return root / "reports" / "audit" / CSV_NAME


def _number(text: str | None) -> float:
    try:
        return float(text or "nan")
    except ValueError:
        return math.nan


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The flagged tracks of ``path`` best first; ValueError naming the file when it is not such a file."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in HEADER if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: not an audio_disagreement.csv (no column {missing[0]!r})")
        rows: list[dict[str, Any]] = []
        for row in reader:
            rows.append({**row, "rank": int(_number(row["rank"])) if row["rank"].isdigit() else len(rows) + 1,
                         "suspected_score": _number(row["suspected_score"]),
                         "given_score": _number(row["given_score"]),
                         "label_quality": _number(row["label_quality"])})
    return sorted(rows, key=lambda r: r["rank"])


def audio_section(inp: AuditInput, opts: AuditOptions) -> Section:
    """The report section and findings for the flagged tracks still in the audited manifest."""
    path = csv_path(inp.root)
    if not path.is_file():
        return Section(KEY, TITLE, ran=False, skipped_because=f"no {CSV_NAME} yet: run 'python -m training "
                                                              "audit-audio' to compare the audio with the labels")
    try:
        rows = read_rows(path)
    except (OSError, ValueError, csv.Error) as exc:
        log.warning("%s", exc)
        return Section(KEY, TITLE, ran=False, skipped_because=f"{path.name} is unreadable ({exc})")
    section = Section(KEY, TITLE, data={"path": str(path), "rows": [], "stale": 0})
    for row in rows:
        track_id = row["track_id"]
        if track_id not in inp.view or track_id in inp.dropped:
            section.data["stale"] += 1  # removed or dropped since the comparison ran
            continue
        section.data["rows"].append(row)
        section.flag(track_id, CHECK, f"audio sounds like {row['suspected_genre']} ({row['suspected_score']:.2f}); "
                                      f"labelled {row['labels']} ({row['given_score']:.2f}); "
                                      f"label quality {row['label_quality']:.3f}", severity=SEVERITY)
    return section


def render(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    """The section of report.md: the flagged tracks, most suspicious first."""
    from .report import _more, _table, code, md

    rows = sec.data["rows"]
    out = [f"From {code(sec.data['path'])}: a linear probe on pretrained embeddings, fitted on the other folds "
           "(never on the track's own artist), predicted each track's genres; cleanlab flags the tracks whose "
           f"labels those predictions doubt most. **{len(rows)} tracks** to listen to, most suspicious first."]
    if sec.data["stale"]:
        out[-1] += f" {sec.data['stale']} flagged tracks are no longer in this manifest (rerun the comparison)."
    out.append("")
    table = []
    for row in rows[:opts.max_rows]:
        entry = inp.view.get(row["track_id"], {})
        url = youtube_url(entry["youtube_id"]) if entry.get("youtube_id") else ""
        track = md(describe(entry)) + (f" ([listen]({url}))" if url else "")
        table.append((row["rank"], code(row["track_id"]), track, md(row["labels"]),
                      f"{md(row['suspected_genre'])} ({row['suspected_score']:.2f})",
                      f"{row['given_score']:.2f}", f"{row['label_quality']:.3f}"))
    if table:
        out += _table(("#", "track", "artist - title", "labelled", "sounds like", "label score", "quality"),
                      table, "rllllrr")
        out += _more(len(rows), len(table))
    return out
