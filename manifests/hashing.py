"""Content hashes: the one way the toolkit fingerprints a file.

Manifests record a file's sha256 so later stages can trust it without decoding
it again and notice when it changed; every stage must compute it the same way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path | str, chunk: int = _CHUNK) -> str:
    """Hex sha256 of a file's bytes, read in chunks so memory stays flat on long audio."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
