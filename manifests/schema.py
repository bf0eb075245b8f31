"""Table schemas: the contract every stage reads and writes.

Each table is one CSV owned by one stage and joined on ``track_id``.  A column's
``kind`` says how a cell is encoded (see :mod:`manifests.codec`); the last column
of every versioned table is ``schema`` holding ``<table>@<version>`` so a file
written by an older toolkit is detected instead of silently misread.

``manifests/README.md`` is generated from this module (``python -m manifests docs``)
and a test keeps the two in sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SCHEMA_COLUMN = "schema"

#: Column kinds understood by the codec.
KINDS = ("str", "int", "float", "bool", "list", "floatmap", "listmap")

#: Our own identifier: lower-case, path-safe, so audio files can be named by it.
TRACK_ID_PATTERN = r"[a-z0-9][a-z0-9_-]{2,63}"
ISRC_PATTERN = r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}"
SPOTIFY_ID_PATTERN = r"[0-9A-Za-z]{22}"
YOUTUBE_ID_PATTERN = r"[0-9A-Za-z_-]{11}"
SHA256_PATTERN = r"[0-9a-f]{64}"
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
DATE_PATTERN = r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?"
TIMESTAMP_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
#: Canonical genre names: lower-case words joined by single spaces or hyphens.
GENRE_PATTERN = r"[a-z0-9&]+(?:[ -][a-z0-9&]+)*"

SPLITS = ("train", "validation", "test")
CLAIM_SOURCES = ("playlist", "musicbrainz", "rym", "lastfm", "synthetic", "manual", "folder", "tags", "csv", "fma",
                 "audio")


@dataclass(frozen=True)
class Column:
    """One column: its encoding, whether it may be empty, and what values are legal."""

    name: str
    kind: str
    doc: str
    required: bool = False
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    decimals: int = 4
    #: the cell (or the keys of a map cell) must be a known canonical genre
    genre: bool = False
    #: the cell is a path inside the data folder: relative, forward slashes, no ``..``
    path: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: unknown kind {self.kind!r}")

    @property
    def regex(self) -> re.Pattern[str] | None:
        return re.compile(rf"(?:{self.pattern})\Z") if self.pattern else None


@dataclass(frozen=True)
class Table:
    """A stage-owned table: name, version, primary key and columns in file order."""

    name: str
    version: int
    owner: str
    doc: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    #: hand-edited inputs carry no ``schema`` column
    versioned: bool = True
    #: sort order for deterministic files (defaults to the key)
    sort_by: tuple[str, ...] = field(default=())
    #: the command a user runs to produce this table (named when it is missing)
    command: str = ""

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def header(self) -> list[str]:
        names = [c.name for c in self.columns]
        return names + [SCHEMA_COLUMN] if self.versioned else names

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")


def _c(name: str, kind: str, doc: str, **kw: Any) -> Column:
    return Column(name=name, kind=kind, doc=doc, **kw)


TRACK_ID = _c("track_id", "str", "Our stable track identifier (lower-case, path-safe); audio files are named by it.",
              required=True, pattern=TRACK_ID_PATTERN)

TRACKS = Table(
    name="tracks", version=1, command="make collect (or make demo for the synthetic corpus)", owner="collectors (spotify, export import, synthetic corpus, audio import)",
    doc="One row per recording. The same recording found in several playlists, or under several "
        "Spotify IDs with one ISRC, is one row.",
    key=("track_id",),
    columns=(
        TRACK_ID,
        _c("title", "str", "Track title as the source spells it.", required=True),
        _c("artists", "list", "Every credited artist, in credit order.", required=True),
        _c("album", "str", "Album (release) title."),
        _c("release_date", "str", "Release date: YYYY, YYYY-MM or YYYY-MM-DD.", pattern=DATE_PATTERN),
        _c("duration_ms", "int", "Duration the catalogue gives, in milliseconds.", minimum=0),
        _c("isrc", "str", "International Standard Recording Code, upper case.", pattern=ISRC_PATTERN),
        _c("spotify_id", "str", "Spotify track ID (base62, 22 characters).", pattern=SPOTIFY_ID_PATTERN),
        _c("spotify_uri", "str", "Spotify URI, spotify:track:<id>."),
        _c("playlists", "list", "Playlist IDs (or export file names) the track was found in, first seen first."),
        _c("origin", "str", "Where the row came from.", required=True,
           allowed=("spotify", "exportify", "csv", "synthetic", "local")),
        _c("musicbrainz_id", "str", "MusicBrainz recording ID (MBID, a lower-case UUID), e.g. from an imported "
           "file's tags; the labels stage then looks the recording up by it instead of searching.",
           pattern=UUID_PATTERN),
    ),
)

PLAYLISTS = Table(
    name="playlists", version=1, command="make collect", owner="collectors (spotify, export import)",
    doc="One row per (genre, playlist) pair the user asked for: what was fetched and why any failed. "
        "A rerun skips pairs whose status is ok and whose snapshot did not change.",
    key=("genre", "playlist_id"),
    columns=(
        _c("genre", "str", "Genre the user assigned to the playlist (raw; mapped by the taxonomy later).",
           required=True),
        _c("playlist_id", "str", "Spotify playlist ID, or the export file name for offline imports.",
           required=True),
        _c("playlist_ref", "str", "The reference exactly as the user gave it (URL, URI, ID or path)."),
        _c("name", "str", "Playlist name."),
        _c("owner", "str", "Owner's display name or ID."),
        _c("snapshot_id", "str", "Spotify snapshot ID at fetch time (changes when the playlist changes)."),
        _c("n_items", "int", "Entries the playlist reported.", minimum=0),
        _c("n_tracks", "int", "Entries kept as tracks.", minimum=0),
        _c("skipped", "floatmap", "Entries skipped, counted per reason (local, episode, unavailable, null).",
           minimum=0, decimals=0),
        _c("status", "str", "Outcome of the fetch.", required=True, allowed=("ok", "partial", "failed")),
        _c("reason", "str", "Why the fetch failed or is partial, in words a user can act on."),
        _c("fetched_at", "str", "UTC time of the fetch.", pattern=TIMESTAMP_PATTERN),
    ),
)

CLAIMS = Table(
    name="claims", version=1, command="make labels", owner="collectors (every label source)",
    doc="One row per genre opinion a source holds about a track: the raw evidence before any mapping. "
        "The labeling stage maps raw_genre through the taxonomy and resolves the claims into labels.",
    key=("track_id", "source", "raw_genre", "evidence"),
    columns=(
        TRACK_ID,
        _c("source", "str", "Who holds the opinion.", required=True, allowed=CLAIM_SOURCES),
        _c("raw_genre", "str", "The genre string exactly as the source gives it.", required=True),
        _c("weight", "float", "The source's own strength for this genre in [0, 1] (vote share, tag "
           "weight / 100, 1 for a playlist, 1 primary / 0.5 secondary on RateYourMusic).",
           required=True, minimum=0.0, maximum=1.0),
        _c("evidence", "str", "Where the claim comes from: playlist ID, MusicBrainz ID, page URL, file.",
           required=True),
        _c("detail", "str", "Free text: vote counts, primary/secondary, the entity level used."),
    ),
)

LABELS = Table(
    name="labels", version=1, command="make labels", owner="labeling (resolve)",
    doc="One row per track: canonical genres with weights and the sources that support each.",
    key=("track_id",),
    columns=(
        TRACK_ID,
        _c("genres", "floatmap", "Canonical genres with resolved weight in [0, 1], strongest first.",
           minimum=0.0, maximum=1.0, genre=True, decimals=3),
        _c("top_genre", "str", "The strongest genre (the single-label view); empty when ambiguous.",
           genre=True),
        _c("sources", "listmap", "For each genre, the sources that claim it.", genre=True),
        _c("n_sources", "int", "How many distinct sources gave any mapped claim.", minimum=0),
        _c("unmapped", "list", "Raw genre strings no taxonomy rule recognised (for review)."),
        _c("status", "str", "ok: usable; ambiguous: top two genres too close for a single label; "
           "unlabeled: no mapped claim; dropped: removed by an override.",
           required=True, allowed=("ok", "ambiguous", "unlabeled", "dropped")),
        _c("reason", "str", "Why the status is not ok."),
    ),
)

DOWNLOADS = Table(
    name="downloads", version=1, command="make download", owner="collectors (youtube match, download, convert; audio import)",
    doc="One row per track: the YouTube match (or the imported file), the converted audio file and its checks.",
    key=("track_id",),
    columns=(
        TRACK_ID,
        _c("status", "str", "ok: audio ready; no_match: nothing passed the threshold; failed: download "
           "or conversion failed; skipped: not attempted (dropped, forbidden, age-restricted).",
           required=True, allowed=("ok", "no_match", "failed", "skipped")),
        _c("reason", "str", "Why the status is not ok."),
        _c("retryable", "bool", "Whether a rerun should try this row again."),
        _c("youtube_id", "str", "Chosen YouTube video ID.", pattern=YOUTUBE_ID_PATTERN),
        _c("match_score", "float", "Score of the chosen video in [0, 1].", minimum=0.0, maximum=1.0,
           decimals=3),
        _c("match_detail", "floatmap", "Score breakdown: title, artist, duration, penalties, bonuses.",
           decimals=3),
        _c("runner_up_id", "str", "Second-best candidate video ID.", pattern=YOUTUBE_ID_PATTERN),
        _c("runner_up_score", "float", "Score of the second-best candidate.", minimum=0.0, maximum=1.0,
           decimals=3),
        _c("audio_path", "str", "Converted WAV, relative to the data folder (audio/<track_id>.wav).", path=True),
        _c("sample_rate", "int", "Sample rate of the converted file in Hz.", minimum=1),
        _c("audio_duration_s", "float", "Duration of the decoded audio in seconds.", minimum=0.0,
           decimals=3),
        _c("sha256", "str", "SHA-256 of the converted file.", pattern=SHA256_PATTERN),
        _c("attempts", "int", "Download attempts so far.", minimum=0),
        _c("updated_at", "str", "UTC time of the last attempt.", pattern=TIMESTAMP_PATTERN),
        _c("source_path", "str", "The original file an import converted, as found on the machine that imported "
           "it (outside the data folder; empty for downloads)."),
        _c("source_sha256", "str", "SHA-256 of that original file (the track ID is derived from it).",
           pattern=SHA256_PATTERN),
        _c("clip_start_seconds", "float", "With --clip-seconds: where the kept excerpt starts in the original "
           "audio, in seconds (empty: the whole track was kept).", minimum=0.0, decimals=3),
        _c("clip_seconds", "float", "With --clip-seconds: the excerpt length asked for (audio_duration_s is "
           "shorter when the track is; short tracks are never padded).", minimum=0.0, decimals=3),
    ),
)

SPLITS_TABLE = Table(
    name="splits", version=1, command="make split", owner="labeling (split)",
    doc="One row per track: its split. No artist and no recording appears in more than one split.",
    key=("track_id",),
    columns=(
        TRACK_ID,
        _c("split", "str", "Which split the track belongs to.", required=True, allowed=SPLITS),
        _c("group", "str", "The artist group that was assigned as a whole (tracks sharing any artist "
           "or recording are one group).", required=True),
        _c("seed", "int", "Seed the assignment used.", required=True),
    ),
)

TRAINING = Table(
    name="training", version=1, command="make manifest", owner="labeling (build)",
    doc="The joined manifest the trainer consumes: one row per usable track with audio, labels and split.",
    key=("track_id",),
    columns=(
        TRACK_ID,
        _c("title", "str", "Track title.", required=True),
        _c("artists", "list", "Every credited artist, in credit order.", required=True),
        _c("isrc", "str", "ISRC, when known.", pattern=ISRC_PATTERN),
        _c("genres", "floatmap", "Canonical genres with weights in [0, 1], strongest first.",
           required=True, minimum=0.0, maximum=1.0, genre=True, decimals=3),
        _c("top_genre", "str", "The single-label view; empty when ambiguous.", genre=True),
        _c("split", "str", "train, validation or test.", required=True, allowed=SPLITS),
        _c("audio_path", "str", "WAV file relative to the data folder.", required=True, path=True),
        _c("sample_rate", "int", "Sample rate in Hz.", required=True, minimum=1),
        _c("audio_duration_s", "float", "Decoded duration in seconds.", required=True, minimum=0.0,
           decimals=3),
        _c("sha256", "str", "SHA-256 of the audio file.", pattern=SHA256_PATTERN),
        _c("youtube_id", "str", "YouTube video the audio came from (empty for synthetic audio).",
           pattern=YOUTUBE_ID_PATTERN),
        _c("match_score", "float", "Match score of that video.", minimum=0.0, maximum=1.0, decimals=3),
    ),
)

OVERRIDE_ACTIONS = ("drop", "set_genres", "add_genre", "remove_genre", "pin_video", "forbid_video")

OVERRIDES = Table(
    name="overrides", version=1, command="nothing: it is yours to write (columns in manifests/README.md)", owner="you (hand-edited; every stage reads it)",
    doc="Manual review decisions that every later stage honours. Edit it in a spreadsheet or editor; "
        "rows apply in file order.",
    key=("track_id", "action", "value"),
    versioned=False,
    columns=(
        TRACK_ID,
        _c("action", "str", "drop: exclude the track everywhere; set_genres: replace its genres "
           "(value like `rock=1; blues=0.5`); add_genre / remove_genre: one canonical genre; "
           "pin_video: use this YouTube ID; forbid_video: never use this YouTube ID.",
           required=True, allowed=OVERRIDE_ACTIONS),
        _c("value", "str", "The genre(s) or video ID the action needs; empty for drop."),
        _c("note", "str", "Why: for the next person who reads the file."),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (
    TRACKS, PLAYLISTS, CLAIMS, LABELS, DOWNLOADS, SPLITS_TABLE, TRAINING, OVERRIDES)}


def table(name: str) -> Table:
    """Look a table up by name with an error that lists the known ones."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}") from None
