"""Label resolution: many sources' genre claims about a track -> weighted canonical genres.

The combination (documented with a worked example in labeling/README.md):

* every claim's ``raw_genre`` is mapped by the taxonomy (unmapped strings are kept
  for review) and, when target genres are given, rolled up to the nearest target;
* per source, a genre's strength is the source's strongest claim for it divided
  by the source's strongest mapped claim overall (``relative strength``, so a
  source's top genre counts 1 whatever scale the source uses; synonyms such as
  "hip-hop" and "rap" do not add up);
* a genre's weight is the trust-weighted sum of those strengths divided by the
  total trust of the sources that gave any mapped claim::

      weight(g) = sum_s trust(s) * strength_s(g) / sum_s trust(s)

So a weight of 1 means every trusted source that said anything names ``g`` as
(one of) its strongest genres; agreement of more sources raises it, and a track
in a "rock" and a "metal" playlist gets both at 1 (multi-genre).  Weights are
memberships, not shares: they need not sum to 1.

Everything here except :func:`run_resolve` is pure.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests.errors import UserError
from manifests.io import Row, atomic_write_text, read_table, write_table
from manifests.layout import Layout
from manifests.overrides import Overrides, TrackOverride
from manifests.schema import CLAIM_SOURCES, CLAIMS, LABELS, TRACKS

from .taxonomy import Taxonomy

log = logging.getLogger(__name__)

DEFAULT_SOURCES = Path(__file__).resolve().parent / "data" / "sources.json"
#: Top two genres closer than this make the single-label view "ambiguous".
DEFAULT_MARGIN = 0.1
#: A genre belongs to the multi-label view when its weight is at least this.
DEFAULT_THRESHOLD = 0.5
WEIGHT_DECIMALS = 3
_EPS = 1e-9


# ---------------------------------------------------------------- trust weights

def _check_weight(source: str, value: Any, where: str) -> float:
    if source not in CLAIM_SOURCES:
        raise UserError(f"{where}: unknown source {source!r} (known: {', '.join(CLAIM_SOURCES)})")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise UserError(f"{where}: trust for {source!r} must be a number >= 0, got {value!r}")
    return float(value)


def load_source_weights(path: Path | str | None = None) -> dict[str, float]:
    """Per-source trust from a JSON file ``{"weights": {"rym": 0.9, ...}}`` (default: the packaged one).

    Every claim source must have a weight, so no source is silently ignored.
    """
    path = Path(path) if path else DEFAULT_SOURCES
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: source weights file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read source weights: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    weights = data.get("weights") if isinstance(data, dict) else None
    if not isinstance(weights, dict):
        raise UserError(f"{path}: expected an object with a 'weights' object, like {{\"weights\": {{\"rym\": 0.9}}}}")
    out = {source: _check_weight(source, value, f"{path}: weights.{source}") for source, value in weights.items()}
    missing = [s for s in CLAIM_SOURCES if s not in out]
    if missing:
        raise UserError(f"{path}: weights: no trust given for {', '.join(missing)}")
    return out


def parse_source_weights(items: Sequence[str]) -> dict[str, float]:
    """``["rym=0.9", "lastfm=0"]`` -> ``{"rym": 0.9, "lastfm": 0.0}`` (the --source-weight option)."""
    out: dict[str, float] = {}
    for item in items:
        source, sep, text = item.partition("=")
        source = source.strip()
        if not sep or not source:
            raise UserError(f"--source-weight {item!r}: expected SOURCE=WEIGHT, like rym=0.9")
        try:
            value = float(text)
        except ValueError:
            raise UserError(f"--source-weight {item!r}: {text!r} is not a number") from None
        out[source] = _check_weight(source, value, f"--source-weight {item!r}")
    return out


# ---------------------------------------------------------------- targets

def parse_targets(taxonomy: Taxonomy, text: str | None = None, level: int | None = None) -> frozenset[str] | None:
    """The roll-up target set from ``--targets "rock,jazz"`` or ``--level N``; None means no roll-up.

    Target names go through the taxonomy, so "Hip-Hop" is accepted for "hip hop".
    """
    if text is not None and level is not None:
        raise UserError("--targets and --level: give one or the other")
    if level is not None:
        if level < 0:
            raise UserError(f"--level {level}: must be 0 (top-level genres) or more")
        return taxonomy.at_level(level)
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise UserError(f"--targets {text!r}: no genre given")
    targets = set()
    for name in names:
        genre = taxonomy.map(name)
        if genre is None:
            raise UserError(f"--targets: {name!r} is not a genre of the taxonomy {taxonomy.source} "
                            f"(try: python -m labeling taxonomy map {name!r})")
        targets.add(genre)
    return frozenset(targets)


# ---------------------------------------------------------------- combination (pure)

def ranked(genres: Mapping[str, float]) -> list[tuple[str, float]]:
    """Strongest first; equal weights in name order, so every view is deterministic."""
    return sorted(genres.items(), key=lambda item: (-item[1], item[0]))


def single_label(genres: Mapping[str, float], margin: float = DEFAULT_MARGIN) -> str | None:
    """The single-label view: the top genre, or None when there is none or the top two are
    closer than ``margin`` (ambiguous)."""
    order = ranked(genres)
    if not order:
        return None
    if len(order) > 1 and order[0][1] - order[1][1] < margin - _EPS:
        return None
    return order[0][0]


def multi_label(genres: Mapping[str, float], threshold: float = DEFAULT_THRESHOLD) -> list[str]:
    """The multi-label view: every genre with weight >= ``threshold``, strongest first."""
    return [g for g, w in ranked(genres) if w >= threshold - _EPS]


@dataclass
class Resolution:
    """What the claims of one track resolve to, before overrides."""

    genres: dict[str, float] = field(default_factory=dict)  # strongest first
    sources: dict[str, list[str]] = field(default_factory=dict)
    contributors: list[str] = field(default_factory=list)  # sources in the denominator
    unmapped: list[str] = field(default_factory=list)
    outside_targets: list[str] = field(default_factory=list)  # mapped genres no target covers
    n_claims: int = 0


def combine_claims(claims: Iterable[Mapping[str, Any]], taxonomy: Taxonomy, trust: Mapping[str, float],
                   targets: Iterable[str] | None = None) -> Resolution:
    """Combine one track's claims (rows of the claims table) into weighted canonical genres."""
    wanted = frozenset(targets) if targets is not None else None
    strength: dict[str, dict[str, float]] = defaultdict(dict)  # source -> genre -> best claim weight
    source_max: dict[str, float] = {}  # source -> strongest mapped claim (before roll-up)
    unmapped: set[str] = set()
    outside: set[str] = set()
    n_claims = 0
    for claim in claims:
        n_claims += 1
        source, raw, weight = claim["source"], claim["raw_genre"], float(claim["weight"])
        genre = taxonomy.map(raw)
        if genre is None:
            unmapped.add(raw)
            continue
        if trust.get(source, 0.0) <= 0 or weight <= 0:
            continue  # an untrusted source or an empty opinion neither supports nor dilutes
        source_max[source] = max(source_max.get(source, 0.0), weight)
        if wanted is not None:
            rolled = taxonomy.rollup(genre, wanted)
            if rolled is None:
                outside.add(genre)
                continue
            genre = rolled
        per = strength[source]
        per[genre] = max(per.get(genre, 0.0), weight)

    total = sum(trust[s] for s in source_max)
    raw_weights: dict[str, float] = defaultdict(float)
    support: dict[str, set[str]] = defaultdict(set)
    for source, per in strength.items():
        for genre, weight in per.items():
            raw_weights[genre] += trust[source] * weight / source_max[source]
            support[genre].add(source)
    genres = {}
    for genre, value in ranked({g: round(min(1.0, v / total), WEIGHT_DECIMALS) for g, v in raw_weights.items()}):
        if value > 0:
            genres[genre] = value
    return Resolution(
        genres=genres,
        sources={g: sorted(support[g]) for g in genres},
        contributors=sorted(source_max),
        unmapped=sorted(unmapped),
        outside_targets=sorted(outside),
        n_claims=n_claims,
    )


def apply_override(res: Resolution, over: TrackOverride, taxonomy: Taxonomy,
                   targets: Iterable[str] | None = None) -> Resolution:
    """Manual decisions on top of the claims: set_genres replaces, then add_genre, then remove_genre.

    Manual genres carry the source "manual"; with targets they are rolled up like any claim.
    """
    if over.set_genres is None and not over.add_genres and not over.remove_genres:
        return res
    wanted = frozenset(targets) if targets is not None else None

    def roll(genre: str) -> str | None:
        return genre if wanted is None else taxonomy.rollup(genre, wanted)

    genres = dict(res.genres)
    sources = {g: list(s) for g, s in res.sources.items()}
    contributors = set(res.contributors)
    if over.set_genres is not None:
        genres, sources, contributors = {}, {}, set()
        for name, weight in over.set_genres.items():
            rolled = roll(name)
            if rolled is not None:
                genres[rolled] = max(genres.get(rolled, 0.0), round(weight, WEIGHT_DECIMALS))
                sources[rolled] = ["manual"]
    for name in over.add_genres:
        rolled = roll(name)
        if rolled is not None:
            genres[rolled] = 1.0
            sources[rolled] = sorted(set(sources.get(rolled, [])) | {"manual"})
    for name in over.remove_genres:
        for gone in {name, roll(name) or name}:
            genres.pop(gone, None)
            sources.pop(gone, None)
    genres = {g: w for g, w in ranked(genres) if w > 0}
    contributors.add("manual")
    return Resolution(genres=genres, sources={g: sources[g] for g in genres}, contributors=sorted(contributors),
                      unmapped=res.unmapped, outside_targets=res.outside_targets, n_claims=res.n_claims)


def _fmt(weight: float) -> str:
    return f"{weight:.3f}".rstrip("0").rstrip(".")


def label_row(track_id: str, res: Resolution, over: TrackOverride | None = None,
              margin: float = DEFAULT_MARGIN) -> Row:
    """One labels-table row: genres, single-label view, provenance, status and why."""
    over = over or TrackOverride()
    top = single_label(res.genres, margin)
    if over.dropped:
        status, reason, top = "dropped", f"dropped by override: {over.drop_note}", None
    elif not res.genres:
        status = "unlabeled"
        if res.n_claims == 0 and over.set_genres is None:
            reason = "no genre claims for this track"
        elif over.set_genres is not None or over.remove_genres:
            reason = "overrides removed every genre"
        elif res.outside_targets:
            reason = f"every mapped genre is outside the targets ({', '.join(res.outside_targets)})"
        elif res.unmapped:
            reason = f"no claim mapped by the taxonomy (unmapped: {', '.join(res.unmapped)})"
        else:
            reason = "only claims with weight 0 or from sources with trust 0"
    elif top is None:
        (g1, w1), (g2, w2) = ranked(res.genres)[:2]
        status = "ambiguous"
        reason = f"{g1} {_fmt(w1)} vs {g2} {_fmt(w2)}: closer than the margin {_fmt(margin)}"
    else:
        status, reason = "ok", None
    return {
        "track_id": track_id,
        "genres": res.genres,
        "top_genre": top,
        "sources": res.sources,
        "n_sources": len(res.contributors),
        "unmapped": res.unmapped,
        "status": status,
        "reason": reason,
    }


@dataclass
class ResolveSummary:
    """Counts a user looks at after a run."""

    tracks: int = 0
    claims: int = 0
    status: Counter[str] = field(default_factory=Counter)
    top_genre: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)  # raw string -> tracks carrying it
    outside_targets: Counter[str] = field(default_factory=Counter)
    orphan_claims: int = 0  # claims whose track_id is not in the tracks table
    targets: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tracks": self.tracks, "claims": self.claims, "status": dict(sorted(self.status.items())),
            "top_genre": dict(self.top_genre.most_common()), "unmapped": dict(self.unmapped.most_common()),
            "outside_targets": dict(self.outside_targets.most_common()), "orphan_claims": self.orphan_claims,
            "targets": self.targets,
        }

    def format(self, top_n: int = 10) -> str:
        lines = [f"resolved {self.tracks} tracks from {self.claims} claims"]
        lines.append("  status: " + ", ".join(f"{k} {v}" for k, v in sorted(self.status.items())))
        if self.top_genre:
            lines.append("  top genre: " + ", ".join(f"{g} {n}" for g, n in self.top_genre.most_common()))
        if self.unmapped:
            common = self.unmapped.most_common(top_n)
            lines.append(f"  unmapped raw genres ({len(self.unmapped)} distinct; most common): "
                         + ", ".join(f"{raw!r} {n}" for raw, n in common))
            lines.append("    add aliases or rules for them in your taxonomy (python -m labeling taxonomy map ...)")
        if self.outside_targets:
            lines.append("  mapped but outside the targets: "
                         + ", ".join(f"{g} {n}" for g, n in self.outside_targets.most_common(top_n)))
        if self.orphan_claims:
            lines.append(f"  ignored {self.orphan_claims} claims of tracks missing from the tracks table")
        return "\n".join(lines)


def resolve_labels(tracks: Iterable[Mapping[str, Any]], claims: Iterable[Mapping[str, Any]], taxonomy: Taxonomy,
                   trust: Mapping[str, float], *, targets: Iterable[str] | None = None,
                   margin: float = DEFAULT_MARGIN, overrides: Overrides | None = None,
                   progress: bool = False) -> tuple[list[Row], ResolveSummary]:
    """Labels rows for every track (pure apart from an optional progress bar)."""
    if not 0.0 <= margin <= 1.0:
        raise UserError(f"--margin {margin:g}: must be between 0 and 1")
    wanted = frozenset(targets) if targets is not None else None
    overrides = overrides or Overrides()
    summary = ResolveSummary(targets=sorted(wanted) if wanted is not None else None)
    track_ids = [t["track_id"] for t in tracks]
    known = set(track_ids)
    by_track: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for claim in claims:
        summary.claims += 1
        if claim["track_id"] in known:
            by_track[claim["track_id"]].append(claim)
        else:
            summary.orphan_claims += 1
    rows = []
    iterator: Iterable[str] = track_ids
    if progress:
        from tqdm import tqdm
        iterator = tqdm(track_ids, desc="resolve", unit="track", disable=None)
    for track_id in iterator:
        over = overrides.get(track_id)
        res = combine_claims(by_track.get(track_id, []), taxonomy, trust, wanted)
        res = apply_override(res, over, taxonomy, wanted)
        row = label_row(track_id, res, over, margin)
        rows.append(row)
        summary.tracks += 1
        summary.status[row["status"]] += 1
        if row["top_genre"]:
            summary.top_genre[row["top_genre"]] += 1
        summary.unmapped.update(res.unmapped)
        summary.outside_targets.update(res.outside_targets)
    if summary.orphan_claims:
        log.warning("%d claims name tracks that are not in the tracks table; they were ignored",
                    summary.orphan_claims)
    return rows, summary


# ---------------------------------------------------------------- the stage (I/O)

def run_resolve(layout: Layout, taxonomy: Taxonomy, trust: Mapping[str, float], *,
                targets: Iterable[str] | None = None, margin: float = DEFAULT_MARGIN) -> ResolveSummary:
    """Read tracks, claims and overrides; write the labels table and a JSON summary."""
    tracks = read_table(layout.table_path(TRACKS), TRACKS)
    claims = read_table(layout.table_path(CLAIMS), CLAIMS)
    overrides = Overrides.load(layout.overrides, known_genres=taxonomy.genres)
    rows, summary = resolve_labels(tracks, claims, taxonomy, trust, targets=targets, margin=margin,
                                   overrides=overrides, progress=True)
    path = layout.table_path("labels")
    write_table(path, LABELS, rows, known_genres=taxonomy.genres)
    report = {**summary.as_dict(), "taxonomy": taxonomy.source, "trust": dict(sorted(trust.items())),
              "margin": margin}
    atomic_write_text(layout.reports / "labels_summary.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    log.info("wrote %s (%d rows)", path, len(rows))
    return summary
