"""Turn a parsed RateYourMusic page into claims: primary genres weigh 1.0, secondary 0.5.

Artist pages speak about an artist, not a track, so their genres count half
(0.5 primary, 0.25 secondary) and are used only when no song or release page matched.
"""

from __future__ import annotations

from ..base import Claim, dedupe
from .parser import RymPage

PRIMARY_WEIGHT = 1.0
SECONDARY_WEIGHT = 0.5
ARTIST_FACTOR = 0.5


def claims_from_page(track_id: str, page: RymPage, level: str, how: str, evidence: str) -> list[Claim]:
    factor = ARTIST_FACTOR if level == "artist" else 1.0
    claims = []
    for genre in page.genres:
        rank = "primary" if genre.primary else "secondary"
        weight = (PRIMARY_WEIGHT if genre.primary else SECONDARY_WEIGHT) * factor
        gid = f" [{genre.genre_id}]" if genre.genre_id else ""
        claims.append(Claim(track_id, "rym", genre.name, weight, evidence, f"{level} {rank}{gid}; {how}"))
    return dedupe(claims)
