"""The review app's data core: every table of a data folder loaded once, filtered with vectorised masks.

Why not ``read_table``: validating every cell of 100,000 rows takes seconds, and the app must
answer each table page in well under 200 ms. So the big tables are read once with pandas as
text (their headers checked against the schema), each filter is precomputed as a boolean
array, and a page is a few ``&`` of arrays plus one slice of a presorted order. A table is read
again only when its file's modification time or size changes. The small, hand-edited files
(``overrides.csv``, the reviewed markers) are read through the schema, as every stage does.

Nothing here knows about HTTP: :mod:`labeling.review.app` turns queries into pages.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from manifests import codec
from manifests.errors import UserError
from manifests.io import ManifestError, MissingTable, path_problem, read_table
from manifests.layout import Layout
from manifests.schema import CLAIMS, DOWNLOADS, LABELS, OVERRIDES, SPLITS_TABLE, TRACKS, Table

log = logging.getLogger(__name__)

#: Where the review app keeps its own files (reviewed markers, undo journal).
REVIEW_DIR = ("reports", "review")
REVIEWED_NAME = "reviewed.csv"
REVIEWED_HEADER = ("track_id", "decision", "reviewed_at")
#: Written by the audit (labeling audit) and by the audio-vs-label check.
FLAGGED = ("reports", "audit", "flagged.csv")
DISAGREEMENT = ("reports", "audit", "audio_disagreement.csv")
PREDICTIONS_NAME = "predictions.csv"

#: Columns of the table page, in order (``prediction`` only with --run).
SORTS = ("track_id", "title", "artist", "score", "-score", "disagreement")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500


def _signature(path: Path) -> tuple[int, int] | None:
    """What tells a changed file: modification time and size (None when absent)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _read_text_csv(path: Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """A CSV as text cells (empty cells are empty strings, never NaN)."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding=encoding)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: cannot read it as CSV ({exc})") from None


def _read_table_frame(layout: Layout, table: Table, *, required: bool = False) -> pd.DataFrame:
    """A manifest as text cells, its header checked against the schema; empty when absent and optional."""
    path = layout.table_path(table)
    if not path.exists():
        if required:
            raise MissingTable(path, table)
        return pd.DataFrame({c.name: pd.Series(dtype=str) for c in table.columns})
    frame = _read_text_csv(path, encoding="utf-8-sig")
    missing = [name for name in table.header if name not in frame.columns]
    if missing:
        raise ManifestError(path, f"header lacks column {missing[0]!r} (expected {','.join(table.header)})")
    if table.versioned and len(frame) and not (frame["schema"] == table.tag).all():
        raise ManifestError(path, f"written by another version of the toolkit; this one reads {table.tag}",
                            column="schema")
    return frame


def _decode(fn: Callable[[str], Any], text: str, default: Any) -> Any:
    try:
        return fn(text) if text else default
    except codec.CodecError:
        return default


def _float(text: str) -> float:
    try:
        return float(text) if text else math.nan
    except ValueError:
        return math.nan


@dataclass
class Query:
    """One table request: the filters, the search text, the order and the page."""

    genre: str = ""
    split: str = ""
    source: str = ""
    status: str = ""
    flag: str = ""  # "", "any" or a check name
    max_score: float | None = None  # match score below this
    disagree: bool = False
    wrong: bool = False  # the model's prediction is wrong (with --run)
    reviewed: str = ""  # "", "yes", "no"
    q: str = ""
    sort: str = "track_id"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def params(self, **changes: Any) -> dict[str, str]:
        """The query as URL parameters (defaults left out), with ``changes`` applied."""
        values = {**self.__dict__, **changes}
        default = Query()
        out: dict[str, str] = {}
        for name, value in values.items():
            if value == getattr(default, name) or value is None or value is False:
                continue
            out[name] = "1" if value is True else f"{value:g}" if isinstance(value, float) else str(value)
        return out


@dataclass
class Page:
    """One page of the filtered table."""

    rows: list[dict[str, Any]]
    total: int  # rows that pass the filters
    page: int
    pages: int
    ids: list[str] = field(default_factory=list)  # the page's track IDs in order


@dataclass
class _Static:
    """What the big tables give: built once per change of any of them."""

    ids: np.ndarray  # track IDs, sorted
    position: dict[str, int]
    title: np.ndarray
    artists: np.ndarray  # raw list cells ("A; B")
    haystack: list[str]  # lower-case "id title artists" for search
    genres_text: np.ndarray
    status: np.ndarray
    split: np.ndarray
    score: np.ndarray  # match score, NaN when none
    download_status: np.ndarray
    flag_any: np.ndarray
    flag_text: np.ndarray
    disagree: np.ndarray
    suspected: np.ndarray
    disagree_score: np.ndarray
    prediction: np.ndarray
    wrong: np.ndarray
    genre_masks: dict[str, np.ndarray]
    source_masks: dict[str, np.ndarray]
    split_masks: dict[str, np.ndarray]
    status_masks: dict[str, np.ndarray]
    flag_masks: dict[str, np.ndarray]
    orders: dict[str, np.ndarray]
    frames: dict[str, pd.DataFrame]


class ReviewData:
    """A data folder's tables for review, reloaded when their files change. Thread-safe."""

    def __init__(self, layout: Layout, run: Path | None = None) -> None:
        self.layout = layout
        self.run = run
        self._lock = threading.RLock()
        self._signatures: dict[Path, tuple[int, int] | None] = {}
        self._static: _Static | None = None
        self._light_signatures: dict[Path, tuple[int, int] | None] = {}
        self.reviewed: dict[str, tuple[str, str]] = {}
        self.reviewed_mask: np.ndarray = np.zeros(0, dtype=bool)
        self.overrides: list[dict[str, Any]] = []
        self.overrides_error: str = ""
        self.actions_by_track: dict[str, list[str]] = {}
        self.refresh()

    # ------------------------------------------------------------ files

    @property
    def review_dir(self) -> Path:
        return self.layout.root.joinpath(*REVIEW_DIR)

    @property
    def reviewed_path(self) -> Path:
        return self.review_dir / REVIEWED_NAME

    def _big_files(self) -> list[Path]:
        files = [self.layout.table_path(t) for t in (TRACKS, LABELS, CLAIMS, DOWNLOADS, SPLITS_TABLE)]
        files += [self.layout.root.joinpath(*FLAGGED), self.layout.root.joinpath(*DISAGREEMENT)]
        if self.run is not None:
            files.append(self.run / PREDICTIONS_NAME)
        return files

    def refresh(self) -> bool:
        """Reload whatever changed on disk; True when anything was reloaded."""
        with self._lock:
            changed = False
            big = {p: _signature(p) for p in self._big_files()}
            if self._static is None or big != self._signatures:
                self._static = self._load_static()
                self._signatures = big
                self._light_signatures = {}
                changed = True
            light = {p: _signature(p) for p in (self.layout.overrides, self.reviewed_path)}
            if light != self._light_signatures:
                self._load_light()
                self._light_signatures = light
                changed = True
            return changed

    @property
    def static(self) -> _Static:
        assert self._static is not None
        return self._static

    # ------------------------------------------------------------ loading

    def _load_static(self) -> _Static:
        layout = self.layout
        tracks = _read_table_frame(layout, TRACKS, required=True).drop_duplicates("track_id")
        tracks = tracks.sort_values("track_id", kind="stable").set_index("track_id", drop=False)
        ids = tracks["track_id"].to_numpy(dtype=object)
        n = len(ids)
        index = pd.Index(ids)

        def along(frame: pd.DataFrame, column: str, fill: Any = "") -> np.ndarray:
            series = frame.drop_duplicates("track_id").set_index("track_id")[column]
            return series.reindex(index, fill_value=fill).to_numpy()

        labels = _read_table_frame(layout, LABELS)
        claims = _read_table_frame(layout, CLAIMS)
        downloads = _read_table_frame(layout, DOWNLOADS)
        splits = _read_table_frame(layout, SPLITS_TABLE)

        genres_text = along(labels, "genres").astype(object)
        status = along(labels, "status").astype(object)
        split = along(splits, "split").astype(object)
        score = np.array([_float(s) for s in along(downloads, "match_score")], dtype=float) if n else np.zeros(0)
        download_status = along(downloads, "status").astype(object)

        genre_masks: dict[str, np.ndarray] = {}
        for i, text in enumerate(genres_text):
            for genre in _decode(codec.decode_floatmap, text, {}):
                genre_masks.setdefault(genre, np.zeros(n, dtype=bool))[i] = True
        pairs = claims[["track_id", "source"]].drop_duplicates()
        source_masks = {str(src): np.asarray(index.isin(group["track_id"])) for src, group in pairs.groupby("source")}
        split_masks = {s: split == s for s in sorted(set(split) - {""})}
        status_masks = {s: status == s for s in sorted(set(status) - {""})}

        flag_any, flag_text = np.zeros(n, dtype=bool), np.full(n, "", dtype=object)
        flag_masks: dict[str, np.ndarray] = {}
        flagged_path = layout.root.joinpath(*FLAGGED)
        flagged = pd.DataFrame(columns=["track_id", "check", "severity", "detail"])
        if flagged_path.exists():
            flagged = _read_text_csv(flagged_path, encoding="utf-8-sig")
            if not {"track_id", "check"} <= set(flagged.columns):
                raise UserError(f"{flagged_path}: no track_id and check columns; rerun make audit")
            flagged = flagged[flagged["track_id"] != ""]
            flag_any = index.isin(flagged["track_id"])
            flag_masks = {str(check): np.asarray(index.isin(group["track_id"]))
                          for check, group in flagged.groupby("check")}
            joined = flagged.groupby("track_id")["check"].agg(lambda s: ", ".join(sorted(set(s))))
            flag_text = joined.reindex(index, fill_value="").to_numpy(dtype=object)

        disagree, suspected = np.zeros(n, dtype=bool), np.full(n, "", dtype=object)
        disagree_score = np.full(n, math.nan)
        disagreement_path = layout.root.joinpath(*DISAGREEMENT)
        disagreement = pd.DataFrame(columns=["track_id"])
        if disagreement_path.exists():
            disagreement = _read_text_csv(disagreement_path, encoding="utf-8-sig")
            if "track_id" not in disagreement.columns:
                raise UserError(f"{disagreement_path}: no track_id column")
            disagree = index.isin(disagreement["track_id"])
            if "suspected_genre" in disagreement.columns:
                suspected = along(disagreement, "suspected_genre").astype(object)
            if "score" in disagreement.columns:
                disagree_score = np.array([_float(s) for s in along(disagreement, "score")], dtype=float)

        prediction, wrong = np.full(n, "", dtype=object), np.zeros(n, dtype=bool)
        predictions = pd.DataFrame(columns=["track_id"])
        if self.run is not None:
            path = self.run / PREDICTIONS_NAME
            if not path.exists():
                raise UserError(f"{path} not found: run python -m training evaluate {self.run} first")
            predictions = _read_text_csv(path)
            if not {"track_id", "predicted"} <= set(predictions.columns):
                raise UserError(f"{path}: no track_id and predicted columns (not written by training evaluate)")
            prediction = along(predictions, "predicted").astype(object)
            if "correct" in predictions.columns:
                wrong = along(predictions, "correct") == "false"

        title = tracks["title"].to_numpy(dtype=object)
        artists = tracks["artists"].to_numpy(dtype=object)
        haystack = (tracks["track_id"] + " " + tracks["title"] + " " + tracks["artists"]).str.lower()
        haystack_list = [str(h) for h in haystack]

        orders: dict[str, np.ndarray] = {"track_id": np.arange(n)}
        orders["title"] = np.argsort(pd.Series(title).str.lower().to_numpy(dtype=str), kind="stable")
        orders["artist"] = np.argsort(pd.Series(artists).str.lower().to_numpy(dtype=str), kind="stable")
        orders["score"] = np.argsort(np.where(np.isnan(score), np.inf, score), kind="stable")
        orders["-score"] = np.argsort(np.where(np.isnan(score), np.inf, -score), kind="stable")
        orders["disagreement"] = np.argsort(np.where(np.isnan(disagree_score), np.inf, -disagree_score),
                                            kind="stable")
        log.info("review: %d tracks loaded from %s", n, layout.root)
        return _Static(
            ids=ids, position={t: i for i, t in enumerate(ids)}, title=title, artists=artists, haystack=haystack_list,
            genres_text=genres_text, status=status, split=split, score=score, download_status=download_status,
            flag_any=np.asarray(flag_any), flag_text=flag_text, disagree=np.asarray(disagree), suspected=suspected,
            disagree_score=disagree_score, prediction=prediction, wrong=np.asarray(wrong),
            genre_masks=dict(sorted(genre_masks.items())), source_masks=source_masks, split_masks=split_masks,
            status_masks=status_masks, flag_masks=flag_masks, orders=orders,
            frames={"tracks": tracks, "labels": labels.set_index("track_id", drop=False),
                    "claims": claims, "downloads": downloads.set_index("track_id", drop=False),
                    "splits": splits.set_index("track_id", drop=False), "flagged": flagged,
                    "disagreement": disagreement, "predictions": predictions})

    def _load_light(self) -> None:
        """The overrides (validated like every stage reads them) and the reviewed markers."""
        try:
            self.overrides = read_table(self.layout.overrides, OVERRIDES, missing_ok=True)
            self.overrides_error = ""
        except UserError as exc:
            self.overrides, self.overrides_error = [], str(exc)
        self.actions_by_track = {}
        for row in self.overrides:
            self.actions_by_track.setdefault(row["track_id"], []).append(row["action"])
        self.reviewed = {}
        if self.reviewed_path.exists():
            frame = _read_text_csv(self.reviewed_path)
            if "track_id" in frame.columns:
                for record in frame.to_dict("records"):
                    self.reviewed[str(record["track_id"])] = (str(record.get("decision", "")),
                                                              str(record.get("reviewed_at", "")))
        self.reviewed_mask = pd.Index(self.static.ids).isin(list(self.reviewed))

    # ------------------------------------------------------------ questions

    def __len__(self) -> int:
        return len(self.static.ids)

    def __contains__(self, track_id: object) -> bool:
        return isinstance(track_id, str) and track_id in self.static.position

    def facets(self) -> dict[str, list[str]]:
        """The values each filter offers."""
        s = self.static
        return {"genre": list(s.genre_masks), "split": list(s.split_masks), "source": sorted(s.source_masks),
                "status": list(s.status_masks), "flag": sorted(s.flag_masks)}

    @property
    def has_disagreement(self) -> bool:
        return self.layout.root.joinpath(*DISAGREEMENT).exists()

    def mask(self, query: Query) -> np.ndarray:
        """Which tracks pass the query's filters and search (vectorised)."""
        s = self.static
        n = len(s.ids)
        mask = np.ones(n, dtype=bool)
        none = np.zeros(n, dtype=bool)
        if query.genre:
            mask &= s.genre_masks.get(query.genre, none)
        if query.split:
            mask &= s.split_masks.get(query.split, none) if query.split != "none" else s.split == ""
        if query.source:
            mask &= s.source_masks.get(query.source, none)
        if query.status:
            mask &= s.status_masks.get(query.status, none)
        if query.flag:
            mask &= s.flag_any if query.flag == "any" else s.flag_masks.get(query.flag, none)
        if query.max_score is not None:
            with np.errstate(invalid="ignore"):
                mask &= s.score < query.max_score
        if query.disagree:
            mask &= s.disagree
        if query.wrong:
            mask &= s.wrong
        if query.reviewed in ("yes", "no"):
            mask &= self.reviewed_mask if query.reviewed == "yes" else ~self.reviewed_mask
        text = query.q.strip().lower()
        if text:  # a plain substring test per row: faster than pandas' str.contains on object columns
            hay = s.haystack
            if mask.all():
                mask = np.fromiter((text in h for h in hay), dtype=bool, count=n)
            else:  # search only what the other filters left
                candidates = np.flatnonzero(mask)
                hits = np.fromiter((text in hay[i] for i in candidates), dtype=bool, count=len(candidates))
                mask = np.zeros(n, dtype=bool)
                mask[candidates[hits]] = True
        return mask

    def ordered(self, query: Query) -> np.ndarray:
        """Positions of the tracks that pass the query, in the query's order."""
        with self._lock:
            mask = self.mask(query)
            order = self.static.orders.get(query.sort, self.static.orders["track_id"])
            return np.asarray(order[mask[order]])

    def page(self, query: Query) -> Page:
        """One page of the filtered, sorted table."""
        with self._lock:
            chosen = self.ordered(query)
            total = len(chosen)
            per_page = max(1, min(query.per_page, MAX_PER_PAGE))
            pages = max(1, math.ceil(total / per_page))
            number = max(1, min(query.page, pages))
            positions = chosen[(number - 1) * per_page: number * per_page]
            rows = [self.summary(int(i)) for i in positions]
            return Page(rows=rows, total=total, page=number, pages=pages, ids=[r["track_id"] for r in rows])

    def neighbours(self, query: Query, track_id: str) -> tuple[str | None, str | None]:
        """The previous and next track in the query's list (for j/k on the track page)."""
        with self._lock:
            chosen = self.ordered(query)
            position = self.static.position.get(track_id)
            if position is None:
                return None, None
            where = np.flatnonzero(chosen == position)
            if not len(where):
                return None, (str(self.static.ids[chosen[0]]) if len(chosen) else None)
            at = int(where[0])
            before = str(self.static.ids[chosen[at - 1]]) if at > 0 else None
            after = str(self.static.ids[chosen[at + 1]]) if at + 1 < len(chosen) else None
            return before, after

    def summary(self, i: int) -> dict[str, Any]:
        """One table row for display."""
        s = self.static
        track_id = str(s.ids[i])
        genres = _decode(codec.decode_floatmap, s.genres_text[i], {})
        score = float(s.score[i])
        return {
            "track_id": track_id, "title": s.title[i],
            "artists": ", ".join(_decode(codec.decode_list, s.artists[i], [])),
            "genres": genres, "status": s.status[i], "split": s.split[i],
            "score": None if math.isnan(score) else score, "download_status": s.download_status[i],
            "flags": s.flag_text[i], "disagree": bool(s.disagree[i]), "suspected": s.suspected[i],
            "prediction": s.prediction[i], "wrong": bool(s.wrong[i]),
            "reviewed": self.reviewed.get(track_id, ("", ""))[0],
            "overrides": self.actions_by_track.get(track_id, []),
        }

    def counts(self, query: Query | None = None) -> dict[str, int]:
        """Reviewed tracks: all of them, and of those passing ``query``."""
        with self._lock:
            out = {"reviewed": int(self.reviewed_mask.sum()), "total": len(self.static.ids)}
            if query is not None:
                mask = self.mask(query)
                out["in_view"] = int(mask.sum())
                out["reviewed_in_view"] = int((mask & self.reviewed_mask).sum())
            return out

    def track(self, track_id: str) -> dict[str, Any]:
        """Everything known about one track, for its page. KeyError when it is not in the manifest."""
        with self._lock:
            s = self.static
            i = s.position[track_id]
            frames = s.frames
            detail = self.summary(i)
            tracks = frames["tracks"].loc[track_id]
            detail["track"] = {c.name: tracks.get(c.name, "") for c in TRACKS.columns}
            claims = frames["claims"]
            detail["claims"] = claims[claims["track_id"] == track_id][
                ["source", "raw_genre", "weight", "evidence", "detail"]].to_dict("records")
            detail["label"] = _row(frames["labels"], track_id)
            if detail["label"]:
                detail["label"]["sources"] = _decode(codec.decode_listmap, detail["label"].get("sources", ""), {})
                detail["label"]["unmapped"] = _decode(codec.decode_list, detail["label"].get("unmapped", ""), [])
            download = _row(frames["downloads"], track_id)
            if download:
                download["match_detail"] = _decode(codec.decode_floatmap, download.get("match_detail", ""), {})
            detail["download"] = download
            flagged = frames["flagged"]
            detail["findings"] = flagged[flagged["track_id"] == track_id].to_dict("records")
            dis = frames["disagreement"]
            detail["disagreement"] = dis[dis["track_id"] == track_id].to_dict("records")
            pred = frames["predictions"]
            rows = pred[pred["track_id"] == track_id].to_dict("records")
            detail["model"] = _prediction({str(k): v for k, v in rows[0].items()}) if rows else None
            detail["override_rows"] = [r for r in self.overrides if r["track_id"] == track_id]
            marker = self.reviewed.get(track_id)
            detail["reviewed_at"] = marker[1] if marker else ""
            return detail

    def audio_file(self, track_id: str) -> Path | None:
        """The track's WAV inside the data folder, or None. Only IDs from the manifest get here."""
        with self._lock:
            if track_id not in self.static.position:
                return None
            stored = str(_row(self.static.frames["downloads"], track_id).get("audio_path") or "")
        if not stored:
            stored = self.layout.relative(self.layout.audio_path(track_id))
        if path_problem(stored):
            log.warning("review: %s has an unsafe audio_path %r; not served", track_id, stored)
            return None
        try:
            path = self.layout.resolve(stored)
        except UserError as exc:
            log.warning("review: %s", exc)
            return None
        root = self.layout.root.resolve()
        if not path.resolve().is_relative_to(root) or not path.is_file():
            return None
        return path

    def known(self, ids: Iterable[str]) -> list[str]:
        return [t for t in ids if t in self.static.position]


def _row(frame: pd.DataFrame, track_id: str) -> dict[str, Any]:
    """One row of a table indexed by track_id, as a dict (empty when there is none)."""
    if track_id not in frame.index:
        return {}
    found = frame.loc[[track_id]].iloc[0]
    return {str(k): v for k, v in found.items()}


def _prediction(row: dict[str, Any]) -> dict[str, Any]:
    """A predictions.csv row: the prediction, its confidence and the three likeliest genres."""
    probs = {k[len("prob_"):]: _float(v) for k, v in row.items() if k.startswith("prob_")}
    top = sorted(((g, p) for g, p in probs.items() if not math.isnan(p)), key=lambda gp: -gp[1])[:3]
    return {"true": row.get("true", ""), "predicted": row.get("predicted", ""),
            "correct": row.get("correct", ""), "confidence": _float(str(row.get("confidence", ""))), "top": top}
