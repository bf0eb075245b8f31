"""A MusicBrainz WS/2 JSON server on 127.0.0.1 with answers shaped like the real ones."""

from __future__ import annotations

from typing import Any

from tests.servers.local_site import Hit, LocalSite, Reply

REC_TEARDROP = "0a6a4b1c-0c1e-4b8a-9c55-2d1c9f4d8e01"
REC_ANGEL = "1b7b5c2d-1d2f-4c9b-8d66-3e2d0f5e9f02"
REC_UNKNOWN = "2c8c6d3e-2e3f-4dac-9e77-4f3e1f6fa003"
REC_TAGGED = "3d9d7e4f-3f4f-4ebd-8f88-5f4f2f7fb104"
#: known only by its MBID (no ISRC, no search hit): found through tracks.musicbrainz_id alone
REC_BY_ID = "7e1e8f9a-7a8b-4c9d-8e0f-9a8b7c6d5e04"
RG_MEZZANINE = "4eae8f5f-4f5f-4fce-9f99-6f5f3f8fc205"
RG_COMPILATION = "5fbf9f6f-5f6f-4fdf-8faa-7f6f4f9fd306"
ART_MASSIVE = "10adbe5e-a2c0-4bf3-8249-2b4cbf6e6ca8"
ART_FRASER = "6fcfaf7f-6f7f-4fef-9fbb-8f7f5fafe407"

MASSIVE_CREDIT = [{"name": "Massive Attack", "joinphrase": "",
                   "artist": {"id": ART_MASSIVE, "name": "Massive Attack", "sort-name": "Massive Attack",
                              "type": "Group", "disambiguation": ""}}]


def recording(mbid: str, title: str, length: int | None, *, genres: list[tuple[str, int]] = (),
              tags: list[tuple[str, int]] = (), groups: list[tuple[str, str, str]] = ()) -> dict[str, Any]:
    return {
        "id": mbid, "title": title, "length": length, "video": False, "disambiguation": "",
        "first-release-date": "1998-04-20", "artist-credit": MASSIVE_CREDIT,
        "genres": [{"id": f"g-{n}", "name": n, "count": c, "disambiguation": ""} for n, c in genres],
        "tags": [{"name": n, "count": c} for n, c in [*genres, *tags]],
        "releases": [{"id": f"rel-{i}", "title": t, "status": "Official", "date": "1998-04-20",
                      "release-group": {"id": gid, "title": t, "primary-type": kind,
                                        "secondary-types": ["Compilation"] if kind == "Compilation" else []}}
                     for i, (gid, t, kind) in enumerate(groups)],
    }


RECORDINGS = {
    REC_TEARDROP: recording(REC_TEARDROP, "Teardrop", 330773,
                            genres=[("trip hop", 6), ("electronic", 3), ("downtempo", 2), ("ambient", 0)],
                            groups=[(RG_MEZZANINE, "Mezzanine", "Album")]),
    REC_ANGEL: recording(REC_ANGEL, "Angel", 379000,
                         groups=[(RG_COMPILATION, "Collected", "Compilation"), (RG_MEZZANINE, "Mezzanine", "Album")]),
    REC_UNKNOWN: recording(REC_UNKNOWN, "Exchange", 251000),
    REC_TAGGED: recording(REC_TAGGED, "Dissolved Girl", 366000, tags=[("bristol", 2), ("seen live", 1)]),
    REC_BY_ID: recording(REC_BY_ID, "Inertia Creeps", 357000, genres=[("trip hop", 4), ("dub", 2)],
                         groups=[(RG_MEZZANINE, "Mezzanine", "Album")]),
}
GROUPS = {
    RG_MEZZANINE: {"id": RG_MEZZANINE, "title": "Mezzanine", "primary-type": "Album", "secondary-types": [],
                   "genres": [{"id": "g1", "name": "trip hop", "count": 9, "disambiguation": ""},
                              {"id": "g2", "name": "electronica", "count": 3, "disambiguation": ""}],
                   "tags": [{"name": "trip hop", "count": 9}, {"name": "electronica", "count": 3}]},
    RG_COMPILATION: {"id": RG_COMPILATION, "title": "Collected", "genres": [{"name": "pop", "count": 1}], "tags": []},
}
ARTISTS = {ART_MASSIVE: {"id": ART_MASSIVE, "name": "Massive Attack", "type": "Group",
                         "genres": [{"id": "g1", "name": "trip hop", "count": 12, "disambiguation": ""},
                                    {"id": "g3", "name": "electronic", "count": 4, "disambiguation": ""}],
                         "tags": [{"name": "trip hop", "count": 12}]}}
ISRCS = {
    "GBAAA9800001": [REC_TEARDROP],
    "GBAAA9800002": [REC_UNKNOWN, REC_ANGEL],  # two recordings share the ISRC; the title decides
    "GBAAA9800003": [REC_UNKNOWN],
    "GBAAA9800004": [REC_TAGGED],
}
NOT_FOUND = {"error": "Not Found", "help": "For usage, please see: https://musicbrainz.org/development/mmd"}


def _isrc(hit: Hit) -> Reply:
    code = hit.path.rsplit("/", 1)[1]
    ids = ISRCS.get(code)
    if not ids:
        return Reply.json(NOT_FOUND, 404)
    recs = [{k: v for k, v in RECORDINGS[i].items() if k in ("id", "title", "length", "video", "disambiguation",
                                                            "artist-credit")} for i in ids]
    return Reply.json({"isrc": code, "recordings": recs})


def _entity(table: dict[str, dict]) -> Any:
    def answer(hit: Hit) -> Reply:
        found = table.get(hit.path.rsplit("/", 1)[1])
        return Reply.json(found) if found else Reply.json(NOT_FOUND, 404)
    return answer


def _search(hit: Hit) -> Reply:
    query = hit.param("query") or ""
    hits = []
    if "teardrop" in query.lower():
        wrong = dict(RECORDINGS[REC_TEARDROP], id="ffffffff-0000-4000-8000-000000000000", length=100000)
        hits = [dict(wrong, score=100), dict(RECORDINGS[REC_TEARDROP], score=98)]
    return Reply.json({"created": "2026-01-01T00:00:00.000Z", "count": len(hits), "offset": 0,
                       "recordings": hits})


def serve_musicbrainz(site: LocalSite, *, unknown_recordings: tuple[str, ...] = ()) -> None:
    """Every WS/2 route the label source uses; ``unknown_recordings``: MBIDs answered with a 404 lookup."""
    for code in [*ISRCS, "USXXX0000000"]:
        site.route(f"/ws/2/isrc/{code}", _isrc)
    for mbid in [*RECORDINGS, *unknown_recordings]:
        site.route(f"/ws/2/recording/{mbid}", _entity(RECORDINGS))
    for mbid in GROUPS:
        site.route(f"/ws/2/release-group/{mbid}", _entity(GROUPS))
    for mbid in [*ARTISTS, ART_FRASER]:
        site.route(f"/ws/2/artist/{mbid}", _entity(ARTISTS))
    site.route("/ws/2/recording", _search)
