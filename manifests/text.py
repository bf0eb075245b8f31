"""Text as it enters the toolkit: one clean form for every name, title and note a source gives.

Sources send titles with stray line breaks, tabs, zero-width junk and terminal escapes; a
manifest must hold one readable line per cell whatever the CSV quoting can carry. So text
is cleaned where it comes in (not when tables are written: a table holds what a stage
decided, and hand edits stay as typed).
"""

from __future__ import annotations

import unicodedata


def clean_text(value: object) -> str | None:
    """One line of NFC text: control characters dropped, every run of white space one space, stripped.

    ``None`` for a missing or empty value. Joiners and other format characters stay (emoji and
    scripts need them); line and paragraph separators count as white space.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value))
    text = "".join(ch if not unicodedata.category(ch) == "Cc" or ch.isspace() else " " for ch in text)
    text = " ".join(text.split())
    return text or None
