"""The ``audio`` claims source: a pretrained tagger's genre tags for the audio itself (issue #11 item 8).

``python -m training claims-audio`` tags every downloaded track that no other source
knows (no claim of another source maps to a taxonomy genre; every track with ``all_tracks``)
with registry taggers (by default both musicnn models: MSD's Last.fm tags name popular
genres such as rock, jazz, Hip-Hop, electronic, folk, but not classical; MTT's name
classical, techno, rock, country ...), averages each taggram over the track's patches, and
writes each model's strongest tags that the taxonomy maps to a genre as claims with source ``audio``:
``raw_genre`` the tag as the tagger spells it, ``weight`` its mean probability,
``evidence`` the model's taggram.

A machine's guess must never outvote people: ``labeling resolve`` gives ``audio`` a
trust of 0 in ``labeling/data/sources.json``, so these claims count only when enabled
(``--source-weight audio=0.2``).  The mean taggrams are cached by audio sha256 like
embeddings (``cache/embeddings/<model>-taggram-...``), and the claims go through
:class:`manifests.io.TableStore`, so an interrupted run continues and a rerun recomputes
nothing; a track's earlier ``audio`` claims are replaced by the new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labeling.taxonomy import Taxonomy
from manifests.io import Row, TableStore, read_table
from manifests.layout import Layout
from manifests.schema import CLAIMS, DOWNLOADS

from ..data.embeddings import EmbeddingSettings
from ..models.pretrained.registry import get_pretrained
from ..models.pretrained.tagger import TAGGRAM
from .embed import embed_tracks

log = logging.getLogger(__name__)

SOURCE = "audio"


@dataclass
class AudioClaimsSettings:
    """What is tagged and which tags become claims (the command's options)."""

    pretrained: tuple[str, ...] = ("musicnn-MSD", "musicnn-MTT")
    #: at most this many claims per track and model, strongest first
    top: int = 3
    #: a tag's mean probability must reach this
    min_score: float = 0.1
    #: evenly spaced patches per track (bounds the cost of long tracks); None: every patch
    max_patches: int | None = 10
    #: every downloaded track, not only the ones no other source knows
    all_tracks: bool = False


@dataclass
class AudioClaimsResult:
    """How many tracks were tagged, how many got claims, and how many claims were written."""

    tracks: int
    claimed: int
    claims: int
    missing_audio: int
    path: Path


def known_tracks(claims: Sequence[Row], taxonomy: Taxonomy) -> set[str]:
    """Tracks with a claim of another source than ``audio`` that maps to a genre of the taxonomy."""
    return {c["track_id"] for c in claims if c["source"] != SOURCE and taxonomy.map(c["raw_genre"]) is not None}


def genre_claims(track_id: str, mean: np.ndarray, tags: Sequence[str], taxonomy: Taxonomy,
                 settings: AudioClaimsSettings, evidence: str) -> list[Row]:
    """The track's strongest mapped tags as claims rows (none when no genre tag reaches ``min_score``)."""
    rows: list[Row] = []
    for i in np.argsort(-mean, kind="stable"):
        score = float(mean[i])
        if score < settings.min_score or len(rows) >= settings.top:
            break
        genre = taxonomy.map(tags[i])
        if genre is None:  # moods, decades, instruments, voices: not genres
            continue
        rows.append({"track_id": track_id, "source": SOURCE, "raw_genre": tags[i],
                     "weight": round(min(1.0, score), 4), "evidence": evidence,
                     "detail": f"mean tag probability over the track's patches; maps to {genre}"})
    return rows


def claim_audio(layout: Layout, taxonomy: Taxonomy, settings: AudioClaimsSettings, *,
                progress: bool = True) -> AudioClaimsResult:
    """Tag the chosen tracks and write their ``audio`` claims into the claims table (resumable)."""
    specs = [get_pretrained(name) for name in dict.fromkeys(settings.pretrained)]
    claims_path = layout.table_path(CLAIMS)
    downloads = [r for r in read_table(layout.table_path(DOWNLOADS), DOWNLOADS, missing_ok=True)
                 if r.get("status") == "ok" and r.get("audio_path")]
    with TableStore(claims_path, CLAIMS) as store:
        known = set() if settings.all_tracks else known_tracks(list(store.rows.values()), taxonomy)
        chosen = [r for r in downloads if r["track_id"] not in known]
        present = [r for r in chosen if layout.resolve(r["audio_path"]).is_file()]
        missing = len(chosen) - len(present)
        if missing:
            log.warning("%d track(s) skipped: their audio file is missing (rerun the download step)", missing)
        log.info("%d downloaded track(s), %d known to another source%s; tagging %d with %s", len(downloads),
                 len(known), " (ignored: --all)" if settings.all_tracks else "", len(present),
                 " and ".join(spec.name for spec in specs))
        if not present:
            return AudioClaimsResult(0, 0, 0, missing, claims_path)
        means = [embed_tracks(layout, present, EmbeddingSettings(model=spec.name, layer=TAGGRAM, pooling="mean",
                                                                 overlap=0.0, max_patches=settings.max_patches),
                              progress=progress).vectors for spec in specs]
        earlier: dict[str, list[tuple[object, ...]]] = {}
        for key, claim in store.rows.items():
            if claim["source"] == SOURCE:
                earlier.setdefault(claim["track_id"], []).append(key)
        written = claimed = 0
        for index, row in enumerate(present):
            track_id = row["track_id"]
            with store.batch():  # a track's earlier audio claims and its new ones change together
                for key in earlier.get(track_id, []):
                    store.remove(key)
                new = [claim for spec, mean in zip(specs, means, strict=True)
                       for claim in genre_claims(track_id, mean[index], spec.labels, taxonomy, settings,
                                                 f"{spec.name} taggram")]
                for claim in new:
                    store.put(claim)
            written += len(new)
            claimed += bool(new)
    log.info("%d of %d track(s) got %d audio claim(s) in %s", claimed, len(present), written, claims_path)
    return AudioClaimsResult(len(present), claimed, written, missing, claims_path)
