"""PNG plots for the audit report, drawn where people look rather than read.

Each function takes a finished :class:`~labeling.audit.checks.Section` and
returns PNG bytes (or None when there is nothing to draw).  Figures are drawn on
an explicit Agg canvas created inside the function, so importing this module
(or running the audit inside a notebook) never switches matplotlib's global
backend, and no display is needed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from manifests.schema import SPLITS

from .checks import Section

#: Most genres shown in one plot; the rest are summarised in the report's tables.
MAX_GENRES = 30
SPLIT_COLOURS = {"train": "#4C72B0", "validation": "#DD8452", "test": "#55A868"}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def genre_counts(sec: Section) -> bytes | None:
    """Horizontal bars: tracks per genre, split into train/validation/test when splits are known."""
    order = sec.data.get("order") or []
    if not sec.ran or not order:
        return None
    genres = order[:MAX_GENRES][::-1]
    fig = _figure(8, 1.2 + 0.28 * len(genres))
    ax = fig.add_subplot()
    per_split = sec.data["per_split"]
    if per_split:
        left = [0] * len(genres)
        for split in SPLITS:
            if split not in per_split:
                continue
            values = [per_split[split].get(g, 0) for g in genres]
            ax.barh(genres, values, left=left, label=split, color=SPLIT_COLOURS[split])
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.legend(loc="lower right")
    else:
        ax.barh(genres, [sec.data["counts"][g] for g in genres], color="#4C72B0")
    ax.set_xlabel("tracks carrying the genre (any weight)")
    more = f" (top {MAX_GENRES} of {len(order)})" if len(order) > MAX_GENRES else ""
    ax.set_title(f"Tracks per genre{more}")
    return _png(fig)


def cooccurrence(sec: Section) -> bytes | None:
    """Heatmap: how many tracks carry both genres (the diagonal is the genre's own count)."""
    order = (sec.data.get("order") or [])[:MAX_GENRES] if sec.ran else []
    if len(order) < 2:
        return None
    import numpy as np

    n = len(order)
    index = {g: i for i, g in enumerate(order)}
    matrix = np.zeros((n, n), dtype=float)
    for g in order:
        matrix[index[g], index[g]] = sec.data["counts"][g]
    for (a, b), count in sec.data["pairs"].items():
        if a in index and b in index:
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = count
    size = 2.5 + 0.35 * n
    fig = _figure(size + 1.2, size)
    ax = fig.add_subplot()
    image = ax.imshow(np.log1p(matrix), cmap="viridis")
    ax.set_xticks(range(n), order, rotation=90)
    ax.set_yticks(range(n), order)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if matrix[i, j] < matrix.max() / 2 else "black")
    fig.colorbar(image, ax=ax, label="log(1 + tracks)")
    ax.set_title("Label co-occurrence (tracks with both genres)")
    return _png(fig)


def source_agreement(sec: Section) -> bytes | None:
    """Left: per-track outcome; right: agreement rate of every source pair."""
    if not sec.ran or not sec.data.get("outcomes"):
        return None
    import numpy as np

    outcomes = sec.data["outcomes"]
    sources = sec.data["sources"]
    pairs = sec.data["pairs"]
    fig = _figure(11 if pairs else 6, 4.5)
    axes = fig.subplots(1, 2 if pairs else 1, squeeze=False)[0]
    labels = [k for k in ("agree", "same family", "disagree", "single source") if outcomes.get(k)]
    colours = {"agree": "#55A868", "same family": "#CCB974", "disagree": "#C44E52", "single source": "#8C8C8C"}
    axes[0].bar(labels, [outcomes[k] for k in labels], color=[colours[k] for k in labels])
    axes[0].set_ylabel("tracks")
    axes[0].set_title("Do the sources agree on the top genre?")
    if pairs:
        n = len(sources)
        index = {s: i for i, s in enumerate(sources)}
        matrix = np.full((n, n), np.nan)
        for a, b, _count, rate in pairs:
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = rate
        image = axes[1].imshow(matrix, vmin=0, vmax=1, cmap="RdYlGn")
        axes[1].set_xticks(range(n), sources, rotation=45, ha="right")
        axes[1].set_yticks(range(n), sources)
        for a, b, count, rate in pairs:
            for i, j in ((index[a], index[b]), (index[b], index[a])):
                axes[1].text(j, i, f"{rate:.0%}\nn={count}", ha="center", va="center", fontsize=8)
        fig.colorbar(image, ax=axes[1], label="share of shared tracks with the same top genre")
        axes[1].set_title("Agreement per source pair")
    return _png(fig)


def download_reasons(sec: Section) -> bytes | None:
    """Bars: why audio is missing, by status and reason."""
    reasons = sec.data.get("reasons") if sec.ran else None
    if not reasons:
        return None
    top = reasons[:20][::-1]
    labels = [f"{status}: {reason[:60]}" for (status, reason), _ in top]
    fig = _figure(10, 1.2 + 0.3 * len(top))
    ax = fig.add_subplot()
    colours = {"failed": "#C44E52", "no_match": "#DD8452", "skipped": "#8C8C8C"}
    ax.barh(labels, [n for _, n in top], color=[colours.get(s, "#4C72B0") for (s, _), _ in top])
    ax.set_xlabel("tracks")
    ax.set_title("Missing audio by status and reason")
    return _png(fig)


def _array(values: list[float]) -> Any:
    """An array for ``hist``: given a list, matplotlib looks at every element on its own (1 s for 100,000)."""
    import numpy as np

    return np.asarray(values, dtype=float)


def durations(sec: Section) -> bytes | None:
    """Decoded vs catalogue duration (outliers in red); a histogram when no catalogue duration is known."""
    points = sec.data.get("points") if sec.ran else None
    if not points:
        return None
    fig = _figure(6.5, 5)
    ax = fig.add_subplot()
    paired = [p for p in points if p[0] is not None]
    if paired:
        for flagged, colour, label in ((False, "#4C72B0", "within tolerance"), (True, "#C44E52", "outlier")):
            chosen = [p for p in paired if p[2] == flagged]
            if chosen:
                ax.scatter([p[0] for p in chosen], [p[1] for p in chosen], s=12, c=colour, label=label,
                           alpha=0.7)
        top = max(max(p[0] for p in paired), max(p[1] for p in paired))
        ax.plot([0, top], [0, top], color="#555555", linewidth=0.8, linestyle="--")
        ax.set_xlabel("expected duration (s): catalogue" + (", trimmed" if sec.data.get("cap") else ""))
        ax.set_ylabel("decoded audio (s)")
        ax.legend()
    else:
        ax.hist(_array([p[1] for p in points]), bins=30, color="#4C72B0")
        ax.set_xlabel("decoded audio (s)")
        ax.set_ylabel("tracks")
    ax.set_title("Durations")
    return _png(fig)


def match_scores(sec: Section, min_score: float) -> bytes | None:
    """Histogram of match scores with the review threshold."""
    scores = sec.data.get("scores") if sec.ran else None
    if not scores:
        return None
    fig = _figure(6.5, 4)
    ax = fig.add_subplot()
    ax.hist(_array(scores), bins=[i / 40 for i in range(41)], color="#4C72B0")
    ax.axvline(min_score, color="#C44E52", linestyle="--", label=f"--warn-match-score {min_score:g}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("YouTube match score")
    ax.set_ylabel("tracks")
    ax.legend()
    ax.set_title("Match scores")
    return _png(fig)


#: file name -> (section key, how to draw it)
PLOTS: dict[str, tuple[str, Callable[..., bytes | None]]] = {
    "genre_counts.png": ("labels", genre_counts),
    "cooccurrence.png": ("labels", cooccurrence),
    "source_agreement.png": ("sources", source_agreement),
    "download_reasons.png": ("audio", download_reasons),
    "durations.png": ("durations", durations),
    "match_scores.png": ("matches", match_scores),
}


def draw_plot(name: str, section: Section, min_score: float) -> bytes | None:
    """The PNG of plot ``name`` (a key of :data:`PLOTS`) from its finished section; None if nothing to draw.

    A plain function of plain data, so a large audit draws its plots in its helper process.
    """
    draw = PLOTS[name][1]
    return draw(section, min_score) if name == "match_scores.png" else draw(section)


def warm_up() -> None:
    """Import matplotlib's figure and Agg canvas ahead of the first plot (half a second, spent while idle)."""
    _figure(1, 1)
