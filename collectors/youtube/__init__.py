"""Find each track on YouTube without downloading: search candidates, score them, pick one.

``search`` asks YouTube Music (and yt-dlp's ``ytsearch`` as a fallback) for candidates,
``score`` rates one candidate against the catalogue metadata, ``match`` runs the
rounds and applies the overrides file.  Downloading lives in :mod:`collectors.audio`.
"""
