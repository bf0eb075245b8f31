"""What the folders above a file say: its genre (GTZAN style), artist and album.

People file music in a few ways, and the folder names are evidence only when the user says
which way (``--layout``): guessing would read "Pink Floyd/The Wall" as genre "Pink Floyd".

* ``none``: the folders say nothing (a tagged library; the tags speak);
* ``genre``: ``GENRE/file`` or ``GENRE/anything/file`` (GTZAN: ``genres/blues/blues.00000.au``
  imported from ``genres``);
* ``genre/artist/album``: ``GENRE/ARTIST/ALBUM/file``; fewer folders give what they have;
* ``artist/album``: ``ARTIST/ALBUM/file`` (the usual library layout: no genre, but artists
  for the artist-disjoint split when files are untagged).

Folders are counted from the PATH given on the command line, so import ``~/Music/by-genre``,
not ``~/Music``, when the genres are the folders right inside ``by-genre``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from manifests.text import clean_text

LAYOUTS = ("none", "genre", "genre/artist/album", "artist/album")


@dataclass(frozen=True)
class FolderFacts:
    """What the folder names give under one layout (each may be missing)."""

    genre: str | None = None
    artist: str | None = None
    album: str | None = None


def folder_facts(layout: str, folders: Sequence[str]) -> FolderFacts:
    """The facts ``layout`` reads from ``folders``: the names between the imported PATH and the file."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    names = [clean_text(name) for name in folders]

    def at(index: int) -> str | None:
        return names[index] if index < len(names) else None

    if layout == "genre":
        return FolderFacts(genre=at(0))
    if layout == "genre/artist/album":
        return FolderFacts(genre=at(0), artist=at(1), album=at(2))
    if layout == "artist/album":
        return FolderFacts(artist=at(0), album=at(1))
    return FolderFacts()
