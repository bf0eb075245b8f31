"""GTZAN (Tzanetakis and Cook, 2002): its file names, its ten labels, and the excerpts best left out.

GTZAN is 1,000 excerpts of 30 s named ``GENRE.NNNNN`` (``blues.00000.au`` in the original
``genres/`` folders, ``.wav`` in later copies). The label is in the name (and the folder), so
``--gtzan`` reads it from there even when the files lie in one flat folder. The dataset has no
artist or title metadata; the artist-disjoint split then falls back to what
``labeling split --no-artists`` says, and its report warns that accuracy may be optimistic
(Sturm found up to 35 excerpts by one artist in a genre).

``gtzan_faults.txt`` (beside this module) lists the excerpts the "fault-filtered"
partitioning leaves out, with its provenance and citations (Sturm, 2013; Kereliuk, Sturm and
Larsen, 2015); ``--drop-gtzan-faults`` skips them.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
FAULTS_FILE = Path(__file__).with_name("gtzan_faults.txt")
#: the citation printed when faulty excerpts are dropped
CITATION = ('B. L. Sturm, "The GTZAN dataset: Its contents, its faults, their effects on evaluation, '
            'and its future use", arXiv:1306.1461, 2013')
_NAME = re.compile(rf"({'|'.join(GENRES)})\.(\d{{5}})\Z")


def excerpt_name(path: Path) -> str | None:
    """``blues.00000`` for ``.../blues.00000.au`` (or ``.wav``); None when the file is not named like GTZAN."""
    stem = path.name.rsplit(".", 1)[0] if path.suffix else path.name
    return stem if _NAME.match(stem) else None


def excerpt_genre(name: str) -> str:
    return name.split(".", 1)[0]


@cache
def faulty_excerpts() -> frozenset[str]:
    """The names listed in ``gtzan_faults.txt``."""
    names = set()
    for line in FAULTS_FILE.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            if not _NAME.match(text):
                raise ValueError(f"{FAULTS_FILE}: {text!r} is not a GTZAN excerpt name")
            names.add(text)
    return frozenset(names)
