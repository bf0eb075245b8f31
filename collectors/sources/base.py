"""What every label source shares: the claim it emits, the errors it raises, the track fields it reads.

A source is a small object with ``name`` (a ``claims.source`` value), ``claims_for(track)``
returning the raw genre opinions it holds about one track, ``fingerprint()`` (changes when
the source's inputs change, so tracks it found nothing for are tried again) and ``close()``.
Mapping raw strings to canonical genres is the labeling stage's job, never a source's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from manifests.errors import UserError
from manifests.ids import is_unknown_artist
from manifests.text import clean_text


class TrackFailed(Exception):
    """This track could not be looked up this time (server error, bad answer); retried on the next run."""


class SourceConfigError(UserError):
    """The source cannot run at all as configured (missing or rejected API key, missing folder)."""


@dataclass(frozen=True)
class Claim:
    """One genre opinion of one source about one track (a row of the claims table)."""

    track_id: str
    source: str
    raw_genre: str
    weight: float
    evidence: str
    detail: str = ""

    def row(self) -> dict[str, Any]:
        return {"track_id": self.track_id, "source": self.source,
                "raw_genre": clean_text(self.raw_genre) or self.raw_genre,
                "weight": round(min(max(float(self.weight), 0.0), 1.0), 4),
                "evidence": clean_text(self.evidence) or self.evidence, "detail": clean_text(self.detail)}


class LabelSource(Protocol):
    name: str

    def claims_for(self, track: Mapping[str, Any]) -> list[Claim]: ...

    def fingerprint(self) -> str: ...

    def close(self) -> None: ...


def dedupe(claims: Iterable[Claim]) -> list[Claim]:
    """One claim per (raw genre, evidence): the strongest wins, first-seen order kept."""
    best: dict[tuple[str, str], Claim] = {}
    for claim in claims:
        if not claim.raw_genre.strip():
            continue
        key = (claim.raw_genre, claim.evidence)
        if key not in best or claim.weight > best[key].weight:
            best[key] = claim
    return list(best.values())


def vote_weights(counts: Mapping[str, float]) -> dict[str, float]:
    """Votes to weights in [0, 1]: each count over the largest; non-positive counts are dropped."""
    positive = {name: float(n) for name, n in counts.items() if n and n > 0}
    top = max(positive.values(), default=0.0)
    return {name: n / top for name, n in positive.items()} if top else {}


def track_artists(track: Mapping[str, Any]) -> list[str]:
    """The credits worth looking up: "[unknown]", "Various Artists" and the like name nobody."""
    artists = track.get("artists") or []
    if isinstance(artists, str):
        artists = [artists]
    return [a for a in artists if a and a.strip() and not is_unknown_artist(a)]


def first_artist(track: Mapping[str, Any]) -> str:
    artists = track_artists(track)
    return artists[0] if artists else ""
