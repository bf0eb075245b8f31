"""The audit joins only the view columns it reads: nothing it reads may be left out of the join."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from labeling.audit import AuditOptions, load, run_audit
from labeling.audit.load import VIEW_COLUMNS, VIEW_ORDER, ViewJoin
from manifests.schema import TABLES

from . import planted

AUDIT_CODE = Path(load.__file__).parent


def _view_columns() -> set[str]:
    return {ViewJoin.RENAMED.get(name, {}).get(col.name, col.name) for name in VIEW_ORDER
            for col in TABLES[name].columns}


def test_every_view_column_the_audit_code_names_is_joined() -> None:
    code = "".join(path.read_text(encoding="utf-8") for path in sorted(AUDIT_CODE.glob("*.py")))
    named = set(re.findall(r"[\"']([a-z_0-9]+)[\"']", code)) & _view_columns()
    assert named - {"track_id"} <= VIEW_COLUMNS, sorted(named - VIEW_COLUMNS - {"track_id"})
    assert VIEW_COLUMNS <= _view_columns()  # no stale names either


def test_joining_every_column_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = planted.build(tmp_path / "data")
    options = AuditOptions(workers=1, min_seconds=0)
    run_audit(layout.manifests, out_dir=tmp_path / "some", options=options)
    monkeypatch.setattr(load, "VIEW_COLUMNS", frozenset(_view_columns()))
    run_audit(layout.manifests, out_dir=tmp_path / "all", options=options)
    some = {p.name: p.read_bytes() for p in (tmp_path / "some").iterdir()}
    every = {p.name: p.read_bytes() for p in (tmp_path / "all").iterdir()}
    assert some.keys() == every.keys() and "flagged.csv" in some
    for name in some:
        assert some[name] == every[name], name
