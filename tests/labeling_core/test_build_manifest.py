"""The training manifest keeps only usable tracks and says why each other one was left out."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from labeling.build import build_rows, excluded_csv, run_build
from labeling.resolve import load_source_weights, run_resolve
from labeling.taxonomy import load_taxonomy
from manifests.io import read_table, write_table
from manifests.layout import Layout
from manifests.overrides import Overrides
from manifests.schema import OVERRIDES, TRAINING
from tests.fixtures.corpus import download_row as download
from tests.fixtures.corpus import label_row as label
from tests.fixtures.corpus import track_row as track


def test_every_exclusion_reason_is_counted(tmp_path: Path) -> None:
    layout = Layout.at(tmp_path)
    ids = ["keep", "keep-amb", "amb-weak", "dropped", "dropped-now", "no-labels", "unlabeled", "no-dl",
           "no-match", "failed", "missing-audio", "no-split"]
    tracks = [track(i) for i in ids]
    labels = [label(i, {"rock": 1.0}) for i in ids if i not in ("no-labels",)]
    labels = [lb for lb in labels if lb["track_id"] not in ("keep-amb", "amb-weak", "dropped", "unlabeled")] + [
        label("keep-amb", {"rock": 0.6, "metal": 0.55}, "ambiguous"),
        label("amb-weak", {"rock": 0.3, "jazz": 0.3}, "ambiguous"),
        label("dropped", {"rock": 1.0}, "dropped"),
        label("unlabeled", {}, "unlabeled"),
        label("orphan", {"rock": 1.0}),
    ]
    downloads = [download(layout, i) for i in ids if i not in ("no-dl", "no-match", "failed", "missing-audio")]
    downloads += [download(layout, "no-match", "no_match"), download(layout, "failed", "failed"),
                  download(layout, "missing-audio", make_file=False)]
    splits = [{"track_id": i, "split": "test" if i == "keep-amb" else "train", "group": i, "seed": 7}
              for i in ids if i != "no-split"]
    overrides_path = tmp_path / "overrides.csv"
    write_table(overrides_path, OVERRIDES, [{"track_id": "dropped-now", "action": "drop", "note": "=HYPERLINK(\"http://x\")"}])

    rows, excluded, summary = build_rows(tracks, labels, downloads, splits, Overrides.load(overrides_path),
                                         threshold=0.5, audio_exists=lambda p: layout.resolve(p).is_file())
    assert [r["track_id"] for r in rows] == ["keep", "keep-amb"]
    assert rows[0]["audio_path"] == "audio/keep.wav"  # relative to the data folder
    assert rows[1]["top_genre"] is None and rows[1]["genres"] == {"rock": 0.6, "metal": 0.55}
    assert dict(summary.excluded) == {"dropped": 2, "no_labels": 1, "unlabeled": 1, "ambiguous": 1,
                                      "no_download": 1, "download_no_match": 1, "download_failed": 1,
                                      "audio_missing": 1, "no_split": 1}
    assert summary.orphans == {"labels": 1}
    assert summary.per_split == {"train": 1, "test": 1}
    reasons = {tid: reason for tid, reason, _ in excluded}
    assert reasons["dropped-now"] == "dropped" and reasons["amb-weak"] == "ambiguous"
    # the excluded-rows CSV is meant for spreadsheets: a note that looks like a formula is disarmed
    listed = {r["track_id"]: r for r in csv.DictReader(io.StringIO(excluded_csv(excluded)))}
    assert listed["dropped-now"]["detail"] == "'=HYPERLINK(\"http://x\")"
    assert listed["no-match"]["detail"] == "no candidate passed the threshold"
    # a stricter threshold turns the usable ambiguous track away too; no audio check keeps missing-audio
    rows, _, summary = build_rows(tracks, labels, downloads, splits, threshold=0.6)
    assert {r["track_id"] for r in rows} == {"keep", "keep-amb", "missing-audio", "dropped-now"}
    rows, _, summary = build_rows(tracks, labels, downloads, splits, threshold=0.61)
    assert "keep-amb" not in {r["track_id"] for r in rows} and summary.excluded["ambiguous"] == 2


def test_run_build_writes_valid_manifest_and_reports(tiny_data: Layout) -> None:
    tax = load_taxonomy()
    run_resolve(tiny_data, tax, load_source_weights())
    summary = run_build(tiny_data, tax)
    rows = read_table(tiny_data.table_path("training"), TRAINING, known_genres=tax.genres)
    assert [r["track_id"] for r in rows] == ["tr-jazz", "tr-rock", "tr-rockmetal"]
    assert rows[0]["title"] == 'Blue, "Quoted"' and rows[0]["genres"] == {"jazz": 1.0}
    assert rows[2]["top_genre"] is None and rows[2]["genres"] == {"metal": 1.0, "rock": 1.0}
    assert dict(summary.excluded) == {"dropped": 1, "unlabeled": 1, "no_split": 1}
    report = json.loads((tiny_data.reports / "build_summary.json").read_text(encoding="utf-8"))
    assert report["rows"] == 3 and report["excluded"] == {"dropped": 1, "unlabeled": 1, "no_split": 1}
    with open(tiny_data.reports / "build_excluded.csv", encoding="utf-8", newline="") as handle:
        excluded = list(csv.DictReader(handle))
    assert [(e["track_id"], e["reason"]) for e in excluded] == [
        ("tr-drop", "dropped"), ("tr-none", "unlabeled"), ("tr-nosplit", "no_split")]
    assert excluded[0]["detail"] == "live bootleg"
