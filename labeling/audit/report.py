"""The audit report in Markdown: a summary first, then one section per check with tables and plots.

Long lists are cut at ``--max-rows``; the full list is always in ``flagged.csv``.
Text from the manifests is escaped so a title cannot break a table or inject
HTML into a rendered report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from manifests.schema import SPLITS

from . import audio_disagreement
from .checks import CHECKS, FILE_CHECKS, SEVERITIES, AuditOptions, Finding, Section, describe, youtube_url
from .load import AuditInput


def md(text: Any) -> str:
    """Text made safe inside a Markdown table cell."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    out = out.replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_")
    out = out.replace("[", "\\[").replace("]", "\\]")
    return " ".join(out.split())


def code(text: Any) -> str:
    """Text as inline code, safe inside a table cell (pipes escaped, backticks replaced)."""
    return "`" + " ".join(str(text).replace("`", "'").replace("|", "\\|").split()) + "`"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> list[str]:
    align = align or "l" * len(header)
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _more(total: int, shown: int) -> list[str]:
    return [f"... and {total - shown} more in flagged.csv.", ""] if total > shown else []


def _findings(findings: Sequence[Finding], inp: AuditInput, limit: int, checks: Sequence[str] | None = None
              ) -> list[str]:
    chosen = [f for f in findings if checks is None or f.check in checks]
    if not chosen:
        return []
    rows = []
    for f in sorted(chosen, key=_order)[:limit]:
        entry = inp.view.get(f.track_id, {})
        track = md(describe(entry)) if entry else ""
        rows.append((f.severity, f"`{f.track_id}`" if f.track_id else "", track, md(f.detail)))
    return _table(("severity", "track", "title / artists", "detail"), rows) + _more(len(chosen), len(rows))


def _order(f: Finding) -> tuple[int, str, str, str]:
    return (SEVERITIES.index(f.severity), f.check, f.track_id, f.detail)


def _n(count: int, word: str, plural: str | None = None) -> str:
    """``1 track``, ``2 tracks``."""
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _pct(x: float) -> str:
    return f"{x:.0%}"


def render(inp: AuditInput, sections: Sequence[Section], opts: AuditOptions, plots: dict[str, bytes],
           flagged_name: str = "flagged.csv") -> str:
    by_key = {s.key: s for s in sections}
    findings = [f for s in sections for f in s.findings]
    sev = Counter(f.severity for f in findings)
    per_check = Counter(f.check for f in findings)
    name, path = inp.primary
    out = ["# Dataset audit", "",
           f"Audited {code(path)} ({name} table) with the sibling tables in {code(inp.folder)}; "
           f"taxonomy {code(inp.taxonomy.source)}.", "",
           f"**{sev['error']} errors, {sev['warning']} warnings, {sev['info']} notes.** "
           f"Every flagged row is in [{flagged_name}]({flagged_name}) (opens safely in a spreadsheet).", ""]

    skipped_checks = {
        "artist_leakage": "leakage", "album_leakage": "leakage", "not_in_split": "leakage",
        "recording_leakage": "duplicates", "duplicate_audio": "duplicates", "duplicate_isrc": "duplicates",
        "duplicate_artist_title": "duplicates", "audio_file_missing": "audio", "audio_hash_mismatch": "audio",
        **{check: "audio" for check in FILE_CHECKS},
        "audio_failed": "audio", "audio_skipped": "audio", "audio_not_attempted": "audio",
        "duration_outlier": "durations", "low_match_score": "matches", "review_match": "matches",
        "close_runner_up": "matches", "unlabeled": "labels", "ambiguous_label": "labels",
        "source_disagreement": "sources", "unmapped_genre": "unmapped", "formula_injection": "formulas",
        audio_disagreement.CHECK: audio_disagreement.KEY}
    rows = []
    checks = {**CHECKS, audio_disagreement.CHECK: (audio_disagreement.SEVERITY, audio_disagreement.MEANING)}
    for check, (severity, meaning) in sorted(checks.items(), key=lambda kv: (SEVERITIES.index(kv[1][0]), kv[0])):
        section = by_key.get(skipped_checks[check])
        if section is not None and not section.ran:
            count = f"skipped: {section.skipped_because}"
        elif check == "audio_hash_mismatch" and not opts.verify_audio:
            count = "skipped: pass --verify-audio"
        elif check in ("audio_file_missing", *FILE_CHECKS) and not opts.check_files:
            count = "skipped: --no-audio-files"
        else:
            count = str(per_check.get(check, 0))
        rows.append((f"`{check}`", severity, count, meaning))
    out += ["## Summary", ""] + _table(("check", "severity", "flagged", "what it means"), rows, "llrl")

    out += ["## Manifests", "", "Every table below was validated against its schema before the checks ran.", ""]
    out += _table(("table", "file", "rows"),
                  [(t, code(inp.paths[t]), inp.row_count(t)) for t in inp.paths], "llr")
    n_over = len(inp.overrides)
    if n_over:
        out += [f"Overrides: {_n(n_over, 'track')} with manual decisions; {_n(len(inp.dropped), 'track')} "
                "dropped and left out of every check except spreadsheet safety.", ""]

    for section in sections:
        out += [f"## {section.title}", ""]
        if not section.ran:
            out += [f"Skipped: {section.skipped_because}.", ""]
            continue
        out += RENDERERS[section.key](section, inp, opts, plots)
    return "\n".join(out).rstrip() + "\n"


def _image(plots: dict[str, bytes], name: str, alt: str) -> list[str]:
    return [f"![{alt}]({name})", ""] if name in plots else []


def _labels(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    d = sec.data
    out = [f"{d['tracks']} labelled tracks, {d['multi']} of them with more than one genre."]
    if d.get("statuses"):
        out[-1] += " Labels table statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(d["statuses"].items())) + "."
    out.append("")
    out += _image(plots, "genre_counts.png", "tracks per genre")
    splits = [s for s in SPLITS if s in d["per_split"]]
    rows = []
    for g in d["order"][:opts.max_rows]:
        rows.append((md(g), d["counts"][g], d["tops"].get(g, 0), *(d["per_split"][s].get(g, 0) for s in splits)))
    if rows:
        out += _table(("genre", "tracks", "as top genre", *splits), rows, "lrr" + "r" * len(splits))
        out += _more(len(d["order"]), len(rows))
    pairs = d["pairs"].most_common(15)
    if pairs:
        out += ["Most frequent genre pairs on one track:", ""]
        out += _table(("genre", "genre", "tracks", "share of the rarer genre"),
                      [(md(a), md(b), n, _pct(n / min(d["counts"][a], d["counts"][b]))) for (a, b), n in pairs],
                      "llrr")
    out += _image(plots, "cooccurrence.png", "label co-occurrence")
    out += _findings(sec.findings, inp, opts.max_rows, ("unlabeled",))
    return out


def _sources(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    d = sec.data
    o = d["outcomes"]
    multi = o.get("agree", 0) + o.get("same family", 0) + o.get("disagree", 0)
    out = [f"Computed from the {d['origin']} table. Tracks per source: "
           + (", ".join(f"{md(s)} {n}" for s, n in sorted(d["coverage"].items())) or "none") + ".", ""]
    if multi:
        out += [f"Of {multi} tracks with claims from two or more sources, {o.get('agree', 0)} "
                f"({_pct(o.get('agree', 0) / multi)}) agree on the top genre, {o.get('same family', 0)} agree "
                f"only on its top-level family and {o.get('disagree', 0)} disagree.", ""]
    else:
        out += ["No track has claims from two sources, so agreement cannot be measured yet.", ""]
    out += _image(plots, "source_agreement.png", "source agreement")
    if d["pairs"]:
        out += _table(("source", "source", "shared tracks", "same top genre"),
                      [(md(a), md(b), n, _pct(rate)) for a, b, n, rate in d["pairs"]], "llrr")
    out += _findings(sec.findings, inp, min(opts.max_rows, 20))
    return out


def _unmapped(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    raw = sec.data["raw"]
    if not raw:
        return [f"Every raw genre maps to a canonical genre ({md(sec.data['origin'])}).", ""]
    out = [f"{_n(len(raw), 'distinct raw string')} did not map ({md(sec.data['origin'])}). Add an alias or a rule "
           "to the taxonomy, then rerun the labels step.", ""]
    rows = [(md(r), info["claims"], len(info["tracks"]), md(", ".join(sorted(info["sources"]))))
            for r, info in raw[:opts.max_rows]]
    out += _table(("raw genre", "claims", "tracks", "sources"), rows, "lrrl") + _more(len(raw), len(rows))
    return out


def _duplicates(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    d = sec.data
    counts = Counter(check for check, _, _ in d["groups"])
    out = [f"{d['checked']} tracks compared: {_n(counts.get('duplicate_isrc', 0), 'ISRC')}, "
           f"{_n(counts.get('duplicate_artist_title', 0), 'artist + title key')} and "
           f"{_n(counts.get('duplicate_audio', 0), 'audio hash', 'audio hashes')} occur on more than one "
           "track ID"
           + ("" if d["has_audio"] else " (no audio hashes known yet)") + ".", ""]
    rows = []
    for check, value, ids in d["groups"][:opts.max_rows]:
        tracks = "<br>".join(f"`{t}` {md(describe(inp.view[t]))}" + (f" ({inp.view[t]['split']})"
                                                                      if inp.view[t].get("split") else "")
                             for t in ids[:6])
        rows.append((check.replace("duplicate_", ""), code(value), tracks))
    if rows:
        out += _table(("same", "key", "tracks"), rows) + _more(len(d["groups"]), len(rows))
    if d["leaks"]:
        out += [f"**{_n(len(d['leaks']), 'duplicated recording')} in more than one split** "
                "(`recording_leakage`): rerun the split after fixing the duplicates.", ""]
        out += _findings(sec.findings, inp, opts.max_rows, ("recording_leakage",))
    return out


def _leakage(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    d = sec.data
    out = [f"{d['tracks']} tracks with a split: " + ", ".join(f"{s} {d['counts'].get(s, 0)}" for s in SPLITS)
           + ".", ""]
    for key, what in (("artist_leaks", "artists"), ("album_leaks", "albums")):
        leaks = d[key]
        if key == "album_leaks" and not d["albums_known"]:
            out += ["Album leakage not checked: no album titles known (needs the tracks table).", ""]
            continue
        if not leaks:
            out += [f"No {what[:-1]} is in more than one split.", ""]
            continue
        out += [f"**{_n(len(leaks), what[:-1])} with tracks in more than one split:**", ""]
        rows = [(md(name), *(len(by_split.get(s, [])) for s in SPLITS)) for name, by_split in leaks[:opts.max_rows]]
        out += _table((what[:-1], *SPLITS), rows, "l" + "r" * len(SPLITS)) + _more(len(leaks), len(rows))
    out += _findings(sec.findings, inp, opts.max_rows, ("not_in_split",))
    return out


def _audio(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    d = sec.data
    out = []
    if d["statuses"]:
        out += ["Downloads: " + ", ".join(f"{k} {v}" for k, v in sorted(d["statuses"].items())) + ".", ""]
    out += _image(plots, "download_reasons.png", "missing audio by reason")
    if d["reasons"]:
        rows = [(s, md(reason), n) for (s, reason), n in d["reasons"][:opts.max_rows]]
        out += _table(("status", "reason", "tracks"), rows, "llr") + _more(len(d["reasons"]), len(rows))
    if d["files_checked"]:
        out += [f"{_n(d['ready'], 'track')} should have audio; {_n(d['missing'], 'file')} missing"
                + (f", {_n(d['outside'], 'path')} leading out of the data folder (not opened)" if d["outside"]
                   else "")
                + f"; {_n(d['checked'], 'WAV header')} read (16 kHz mono PCM16, length as recorded, not cut off), "
                f"{d['broken']} broken"
                + (f"; {_n(d['hashed'], 'file')} hashed, {d['mismatched']} not matching the manifest's sha256"
                   if opts.verify_audio else " (pass --verify-audio to compare sha256 too)") + ".", ""]
    out += _findings(sec.findings, inp, opts.max_rows, ("audio_file_missing", "audio_hash_mismatch",
                                                        "audio_failed", *FILE_CHECKS))
    return out


def _durations(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    d = sec.data
    cap = d["cap"]
    out = [f"{d['n']} decoded files, median {d['median']:.1f} s; {d['with_catalogue']} have a catalogue "
           f"duration to compare with. Flagged: outside [{opts.min_seconds:g} s, {opts.max_seconds:g} s], or "
           f"more than max({opts.duration_slack_s:g} s, {opts.duration_tolerance:.0%}) away from the catalogue.", ""]
    if cap:
        how = "detected: most long tracks end there" if d["cap_detected"] else "--clip-seconds"
        out += [f"Audio appears trimmed to {cap:g} s ({how}); longer tracks are compared with that length.", ""]
    out += _image(plots, "durations.png", "durations")
    out += _findings(sec.findings, inp, opts.max_rows)
    return out


def _matches(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    d = sec.data
    out = [f"{len(d['scores'])} matched videos; {d['n_low']} below --warn-match-score {opts.min_score:g}"
           + (f"; {d['pinned']} pinned by hand in overrides.csv and not flagged" if d["pinned"] else "") + ".", ""]
    out += _image(plots, "match_scores.png", "match scores")
    if d["lowest"]:
        out += [f"The {len(d['lowest'])} lowest scores; open each link and pin or forbid the video in "
                "overrides.csv:", ""]
        rows = []
        for e in d["lowest"]:
            runner = (f"[{e['runner_up_score']:.3f}]({youtube_url(e['runner_up_id'])})"
                      if e.get("runner_up_id") and e.get("runner_up_score") is not None else "")
            rows.append((f"{e['match_score']:.3f}", f"[{e['youtube_id']}]({youtube_url(e['youtube_id'])})",
                         f"`{e['track_id']}`", md(describe(e)), runner))
        out += _table(("score", "video", "track", "title / artists", "runner-up"), rows, "rllll")
    if d["close"]:
        out += [f"{len(d['close'])} matches have a runner-up within {opts.close_runner_up:g} of the chosen "
                "video (`close_runner_up` in flagged.csv).", ""]
    return out


def _formulas(sec: Section, inp: AuditInput, opts: AuditOptions, plots: dict[str, bytes]) -> list[str]:
    if not sec.findings:
        return ["No manifest cell starts with `=`, `+`, `-`, `@`, tab or carriage return.", ""]
    return [f"{len(sec.findings)} manifest cells start like a spreadsheet formula. The manifests keep the text "
            "as it is (it may be a real title such as an album called \"=\"), but do not open those CSVs in a "
            "spreadsheet directly: use flagged.csv, whose cells are neutralised with a leading `'`.", ""] + \
        _findings(sec.findings, inp, opts.max_rows)


RENDERERS = {"labels": _labels, "sources": _sources, "unmapped": _unmapped, "duplicates": _duplicates,
             "leakage": _leakage, "audio": _audio, "durations": _durations, "matches": _matches,
             "formulas": _formulas, audio_disagreement.KEY: audio_disagreement.render}
