"""Other runs scored on the same tracks: the comparison table of a report (CNN vs probe vs MFCC).

A CNN's number means little alone; next to a linear probe on a pretrained model and the
MFCC baseline, on the same test tracks, it says what training a network from scratch
bought.  Rather than a flag naming the runs to compare, a report finds them: every run
folder beside this one whose ``metrics.json`` was scored on the same split of the same
manifest with the same label list and task, and whose ``predictions.csv`` lists exactly
the same tracks with the same truth (a fingerprint of its ``track_id``/``true`` columns).
Runs on another manifest, another split or other tracks are left out, never compared.

Everything is read from the run folders' saved files (no model, no audio), so
``python -m training report`` redraws the table in a second.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from pathlib import Path

from manifests.errors import UserError

from ..runs.rundir import JSONObject, RunDir

log = logging.getLogger(__name__)

#: What must be equal in two metrics.json files before their numbers share a table.
SAME = ("split", "task", "labels", "n_tracks")


def tracks_fingerprint(run: RunDir) -> str | None:
    """SHA-256 of the sorted ``track_id``, ``true`` pairs of the run's predictions.csv; None without one."""
    try:
        with open(run.predictions_file, encoding="utf-8", newline="") as handle:
            pairs = sorted(f"{row['track_id']}\t{row['true']}" for row in csv.DictReader(handle))
    except (OSError, KeyError, csv.Error):
        return None
    return hashlib.sha256("\n".join(pairs).encode()).hexdigest()


def model_label(metrics: JSONObject) -> str:
    """How a report names a run's model: ``CNN `cnn_bn``` or ``linear probe on musicnn-MSD `penultimate```."""
    if metrics.get("model") == "probe":
        pretrained = metrics.get("pretrained") or {}
        return f"linear probe on {pretrained.get('model', '?')} `{pretrained.get('layer', '?')}`"
    if metrics.get("model") == "musicnn":  # train --model musicnn
        return "fine-tuned pretrained `musicnn`"
    return f"CNN `{metrics.get('model') or '?'}`"


def _same_manifest(a: JSONObject, b: JSONObject) -> bool:
    if not a.get("manifest") or not b.get("manifest"):
        return False
    return Path(a["manifest"]).resolve() == Path(b["manifest"]).resolve()


def comparable_runs(run: RunDir, metrics: JSONObject) -> list[tuple[RunDir, JSONObject]]:
    """The other evaluated runs beside ``run`` scored on the same tracks, by name, with their metrics."""
    mine = tracks_fingerprint(run)
    parent = run.path.parent
    if mine is None or not parent.is_dir():
        return []
    found = []
    for folder in sorted(parent.iterdir()):
        other = RunDir(folder)
        if folder == run.path or not other.has_metrics:
            continue
        try:
            theirs = other.read_metrics()
        except UserError as exc:  # a damaged file beside us is that run's problem, not this report's
            log.debug("%s left out of the comparison: %s", other, exc)
            continue
        if any(theirs.get(key) != metrics.get(key) for key in SAME) or not _same_manifest(theirs, metrics):
            continue
        if tracks_fingerprint(other) != mine:
            log.debug("%s left out of the comparison: other tracks or truth", other)
            continue
        found.append((other, theirs))
    return found
