"""Read one playlist: its metadata, then its items 50 at a time, keeping tracks and counting the rest.

``GET /playlists/{id}/items`` (development-mode apps: only playlists the user owns or
collaborates on) with ``fields=`` asking only for what the tracks table keeps and a
``market`` so availability is decided for the user's country.  Entries may carry the
object under ``item`` (current API) or the older ``track``; local files, podcast episodes,
unavailable and null entries are skipped and counted per reason.  Pages are followed by
their absolute ``next`` links, so the cost is one request per 50 items.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .client import SpotifyClient, SpotifyError
from .entries import Kept, TrackEntry, clean_text, normalize_date, normalize_isrc, spotify_track_id

log = logging.getLogger(__name__)

PAGE_SIZE = 50  # the API's maximum for /items
_TRACK_FIELDS = ("type,id,uri,name,duration_ms,is_local,is_playable,external_ids(isrc),artists(name),"
                 "album(name,release_date)")
#: what we ask of each page: paging links plus the few track fields we keep, under both entry keys
ITEM_FIELDS = f"next,total,offset,items(is_local,item({_TRACK_FIELDS}),track({_TRACK_FIELDS}))"
META_FIELDS = "id,name,snapshot_id,owner(id,display_name)"
ADDITIONAL_TYPES = ("track", "episode")


@dataclass
class PlaylistMeta:
    playlist_id: str
    name: str | None = None
    owner: str | None = None
    snapshot_id: str | None = None


@dataclass
class PlaylistFetch:
    """What reading one playlist gave: kept entries, skip counts, and how it ended."""

    meta: PlaylistMeta
    entries: list[TrackEntry] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    n_items: int | None = None
    status: str = "ok"
    reason: str | None = None
    error: SpotifyError | None = None


def entry_from_item(entry: dict[str, Any] | None) -> Kept:
    """One ``PlaylistTrackObject`` as a kept track, or the reason it is skipped."""
    if not isinstance(entry, dict):
        return "null"
    obj = entry.get("item")
    if obj is None:
        obj = entry.get("track")
    if not isinstance(obj, dict):
        return "null"
    uri = str(obj.get("uri") or "")
    if entry.get("is_local") or obj.get("is_local") or uri.startswith("spotify:local:"):
        return "local"
    kind = obj.get("type") or ("episode" if uri.startswith("spotify:episode:") else "track")
    if kind == "episode":
        return "episode"
    if kind != "track":
        return "unavailable"
    sid = spotify_track_id(obj.get("id"))
    title = clean_text(obj.get("name"))
    artists = [name for a in obj.get("artists") or [] if isinstance(a, dict) and (name := clean_text(a.get("name")))]
    if sid is None or not title or not artists or obj.get("is_playable") is False:
        return "unavailable"
    album = obj.get("album")
    album = album if isinstance(album, dict) else {}
    duration = obj.get("duration_ms")
    return TrackEntry(
        title=title, artists=artists, origin="spotify",
        album=clean_text(album.get("name")), release_date=normalize_date(album.get("release_date")),
        duration_ms=int(duration) if isinstance(duration, (int, float)) and duration >= 0 else None,
        isrc=normalize_isrc((obj.get("external_ids") or {}).get("isrc")),
        spotify_id=sid, spotify_uri=f"spotify:track:{sid}",
    )


def fetch_meta(client: SpotifyClient, playlist_id: str, market: str | None) -> PlaylistMeta:
    """Name, owner and snapshot (one request); raises SpotifyError."""
    data = client.call(f"playlist {playlist_id}", client.sp.playlist, playlist_id, fields=META_FIELDS,
                       market=market, additional_types=ADDITIONAL_TYPES) or {}
    owner = data.get("owner") or {}
    return PlaylistMeta(playlist_id=playlist_id, name=clean_text(data.get("name")),
                        owner=clean_text(owner.get("display_name")) or clean_text(owner.get("id")),
                        snapshot_id=clean_text(data.get("snapshot_id")))


def fetch_items(client: SpotifyClient, meta: PlaylistMeta, market: str | None, *,
                progress: bool = True) -> PlaylistFetch:
    """Every item page of a playlist. A refusal midway keeps what was read (status ``partial``)."""
    from tqdm import tqdm

    pid = meta.playlist_id
    result = PlaylistFetch(meta=meta)
    what = f"playlist {pid} ({meta.name})" if meta.name else f"playlist {pid}"
    bar = None
    seen = 0
    try:
        page = client.call(f"{what} items", client.sp.playlist_items, pid, fields=ITEM_FIELDS,
                           limit=PAGE_SIZE, offset=0, market=market, additional_types=ADDITIONAL_TYPES)
        while page:
            if result.n_items is None and isinstance(page.get("total"), int):
                result.n_items = page["total"]
            if bar is None:  # on a terminal only (disable=None), so logs and CI stay clean
                bar = tqdm(total=result.n_items, desc=_short(meta.name or pid), unit="item", leave=False,
                           disable=None if progress else True)
            items = page.get("items") or []
            for raw in items:
                kept = entry_from_item(raw)
                if isinstance(kept, str):
                    result.skipped[kept] += 1
                else:
                    result.entries.append(kept)
            seen += len(items)
            bar.update(len(items))
            if page.get("next"):
                page = client.call(f"{what} items after {seen}", client.sp.next, page)
            elif items and result.n_items is not None and seen < result.n_items:
                # fields= without `next`, or a proxy that drops it: ask for the next offset ourselves
                page = client.call(f"{what} items after {seen}", client.sp.playlist_items, pid, fields=ITEM_FIELDS,
                                   limit=PAGE_SIZE, offset=seen, market=market, additional_types=ADDITIONAL_TYPES)
            else:
                page = None
    except SpotifyError as exc:
        result.error = exc
        result.reason = str(exc)
        result.status = "partial" if seen else "failed"
        if seen:
            result.reason = f"stopped after {seen} of {result.n_items or '?'} items: {exc}"
    finally:
        if bar is not None:
            bar.close()
    if result.n_items is None:
        result.n_items = seen if result.status == "ok" else None
    return result


def _short(name: str, width: int = 32) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"
