"""Run the audit: load and validate, check, draw, and write the report folder.

Nothing is written until every manifest has been validated and every check and
plot has been computed, so a bad manifest leaves the previous report untouched.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from manifests.io import atomic_write_bytes, gc_paused

from ..taxonomy import Taxonomy
from .audio_disagreement import audio_section
from .background import Background, Done, Pending
from .checks import ALL_CHECKS, SEVERITIES, AuditOptions, Finding, Section, prepare_claims, run_checks
from .export import spreadsheet_csv_bytes
from .load import AuditInput, load_input
from .plots import PLOTS, draw_plot, warm_up
from .report import render

log = logging.getLogger(__name__)

#: From this many tracks on, the plots are drawn in the audit's helper process (while the checks go on).
HELPER_MIN_TRACKS = 5000
REPORT_NAME = "report.md"
FLAGGED_NAME = "flagged.csv"
SUMMARY_NAME = "summary.json"
FLAGGED_HEADER = ("track_id", "check", "severity", "detail", "title", "artists", "split", "youtube_url")


@dataclass
class AuditResult:
    """Where the report went and what it found."""

    out_dir: Path
    report: Path
    flagged: Path
    plots: list[Path]
    sections: list[Section]
    findings: list[Finding]

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(f.severity for f in self.findings)
        return {s: c.get(s, 0) for s in SEVERITIES}

    def by_check(self) -> Counter[str]:
        return Counter(f.check for f in self.findings)

    def fails(self, level: str | None) -> bool:
        """Whether ``--fail-on level`` should make the command exit non-zero."""
        if level is None:
            return False
        worst = SEVERITIES[: SEVERITIES.index(level) + 1]
        return any(f.severity in worst for f in self.findings)


def flagged_rows(inp: AuditInput, findings: list[Finding]) -> list[tuple[str, ...]]:
    """flagged.csv's rows: by severity (errors first), then check, track and detail."""
    rows: list[tuple[str, ...]] = []
    by_severity: dict[str, list[Finding]] = {severity: [] for severity in SEVERITIES}
    for f in findings:
        by_severity[f.severity].append(f)
    view = inp.view
    for severity in SEVERITIES:  # itemgetter sorts a hundred thousand findings at C speed
        for f in sorted(by_severity[severity], key=operator.itemgetter(1, 0, 3)):
            e = view.get(f.track_id, _NOTHING)
            video = e.get("youtube_id")
            rows.append((f.track_id, f.check, f.severity, f.detail, e.get("title") or "",
                         "; ".join(e.get("artists") or ()), e.get("split") or "",
                         f"https://www.youtube.com/watch?v={video}" if video else ""))
    return rows


_NOTHING: dict[str, Any] = {}


def helper_idle(kept: dict[str, str], taxonomy: Taxonomy, plots: bool) -> None:
    """In the helper process once it has read its tables, while this process still reads and joins.

    It works out the facts of the claims table it keeps (the claims checks then only pick the
    catalogue's tracks), and imports matplotlib ahead of the first plot.
    """
    if "claims" in kept:
        prepare_claims(kept["claims"], taxonomy)
    if plots:
        warm_up()


def run_audit(manifest: Path | str | None = None, *, data: Path | str | None = None,
              out_dir: Path | str | None = None, taxonomy: Path | str | None = None,
              options: AuditOptions | None = None) -> AuditResult:
    """Audit a manifest and its siblings; write report.md, PNG plots, flagged.csv and summary.json."""
    # The collector stays off until the tables and the joined view are gone (freed as _audit
    # returns): switched back on while they live, its first full pass walks millions of objects.
    with gc_paused():
        return _audit(manifest, data, out_dir, taxonomy, options or AuditOptions())


def _audit(manifest: Path | str | None, data: Path | str | None, out_dir: Path | str | None,
           taxonomy: Path | str | None, opts: AuditOptions) -> AuditResult:
    # a bar on a terminal only (a large folder takes seconds per phase); log lines say the same with -v
    bar = tqdm(total=len(ALL_CHECKS) + 2, desc="audit", unit="step", disable=None, leave=False)
    with bar, Background(opts.workers) as background:
        began = time.perf_counter()
        bar.set_postfix_str("reading and validating the tables")
        inp = load_input(manifest, data=data, taxonomy_path=taxonomy, background=background,
                         idle=functools.partial(helper_idle, plots=opts.plots))
        warmed = background.started  # the helper read tables, then ran helper_idle
        bar.update()
        log.info("read, validated and joined %d tracks in %.1f s", len(inp.view), time.perf_counter() - began)
        big = len(inp.view) >= HELPER_MIN_TRACKS
        pending: dict[str, Pending[bytes | None] | Done[bytes | None]] = {}

        def draw(section: Section) -> None:  # each plot starts as soon as its section is done
            bar.update()
            bar.set_postfix_str(section.title)
            for name, (key, _) in PLOTS.items():
                if opts.plots and key == section.key:
                    pending[name] = background.submit(draw_plot, name, section, opts.min_score, big=big)

        if opts.plots and big and not warmed:
            background.submit(warm_up, big=True)
        sections = [*run_checks(inp, opts, background, on_section=draw),
                    audio_section(inp, opts)]  # the last: training audit-audio's list
        log.info("checks done at %.1f s", time.perf_counter() - began)
        findings = [f for s in sections for f in s.findings]
        bar.set_postfix_str("plots, flagged.csv and report.md")
        rows = flagged_rows(inp, findings)
        flagged = spreadsheet_csv_bytes(FLAGGED_HEADER, rows)  # here, while the helper draws the last plots
        images = {name: png for name in PLOTS if name in pending and (png := pending[name].result())}
        text = render(inp, sections, opts, images, FLAGGED_NAME)
        log.info("plots, flagged.csv and report.md made at %.1f s", time.perf_counter() - began)
        bar.update()
    target = Path(out_dir) if out_dir is not None else inp.root / "reports" / "audit"

    target.mkdir(parents=True, exist_ok=True)
    for name in PLOTS:  # a plot with nothing to draw this time must not survive from an older run
        if name not in images and (target / name).exists():
            (target / name).unlink()
    for name, png in images.items():
        atomic_write_bytes(target / name, png)
    atomic_write_bytes(target / FLAGGED_NAME, flagged)
    summary = {
        "manifest": str(inp.primary[1]), "table": inp.primary[0],
        "severities": dict(Counter(f.severity for f in findings)),
        "checks": dict(sorted(Counter(f.check for f in findings).items())),
        "skipped_sections": {s.key: s.skipped_because for s in sections if not s.ran},
        "tables": {name: inp.row_count(name) for name in [*inp.tables, *inp.kept]},
    }
    atomic_write_bytes(target / SUMMARY_NAME, (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode())
    atomic_write_bytes(target / REPORT_NAME, text.encode("utf-8"))
    return AuditResult(out_dir=target, report=target / REPORT_NAME, flagged=target / FLAGGED_NAME,
                       plots=[target / n for n in images], sections=sections, findings=findings)
