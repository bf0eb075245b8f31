"""Time as the manifests and reports write it.

One format everywhere (``2026-12-01T08:05:48Z``, UTC, whole seconds) keeps tables
sortable and diffable, and matches the ``TIMESTAMP_PATTERN`` the schemas check.
"""

from __future__ import annotations

import time

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now_text() -> str:
    """Now, in UTC, as text in ``TIMESTAMP_FORMAT``."""
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime())
