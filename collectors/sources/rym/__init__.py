"""RateYourMusic: saved pages first (default, offline), live site only when asked (``--rym-live``).

``RymSource`` combines both: a song or release page saved by the user wins; when
none matches and live mode is on, the site is asked (slowly); an artist page is
the last resort.  See ``parser`` for the page structure and README.md for how to
save pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...net import StopRun
from ..base import Claim
from .claims import claims_from_page
from .live import DEFAULT_INTERVAL_S, MIN_INTERVAL_S, RymLive, live_policy
from .offline import Match, SavedPages
from .parser import RymGenre, RymPage, parse_page

__all__ = ["DEFAULT_INTERVAL_S", "MIN_INTERVAL_S", "Match", "RymGenre", "RymLive", "RymPage", "RymSource",
           "SavedPages", "claims_from_page", "live_policy", "parse_page"]


class RymSource:
    """The ``rym`` label source."""

    name = "rym"

    def __init__(self, *, pages: SavedPages | None = None, live: RymLive | None = None) -> None:
        if pages is None and live is None:
            raise ValueError("RymSource needs saved pages, live mode, or both")
        self.pages, self.live = pages, live

    def claims_for(self, track: Mapping[str, Any]) -> list[Claim]:
        offline = self.pages.match(dict(track)) if self.pages is not None else None
        found: Match | None = offline if offline is not None and offline.level != "artist" else None
        if found is None and self.live is not None:
            found = self.live.find(dict(track))
        found = found or offline
        if found is None:
            return []
        claims = claims_from_page(str(track["track_id"]), found.page, found.level, found.how, found.evidence)
        if claims and self.pages is not None and found is offline:
            self.pages.record(str(track["track_id"]), found)
        return claims

    def fingerprint(self) -> str:
        parts = [self.pages.fingerprint() if self.pages is not None else "", "live" if self.live else ""]
        return "+".join(p for p in parts if p)

    def stop_advice(self, exc: StopRun) -> str:
        return ("RateYourMusic refused automated requests: stopped at once and kept every result so far. "
                "Continue offline: open the release pages in your browser, save them (Ctrl+S) into a folder "
                "and run again with --rym-pages FOLDER (without --rym-live); or retry live mode much later.")

    def close(self) -> None:
        """End of the run: write the saved-pages report (which page was used, which did nothing and why)."""
        if self.pages is not None:
            self.pages.write_report()
        if self.live is not None:
            self.live.session.close()
