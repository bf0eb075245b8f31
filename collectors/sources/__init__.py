"""Label sources beyond playlists: MusicBrainz (default), RateYourMusic (saved pages; live opt-in), Last.fm.

Each source is one small module with the same shape (``name``, ``claims_for(track)``,
``fingerprint()``, ``close()``, and a ``default_policy(...)`` for its HTTP session);
``pipeline.LabelRun`` runs them over the tracks table into the claims table, and
``cmd`` is the ``python -m collectors labels`` command.  All HTTP goes through
``collectors.net``.  See README.md in this folder.
"""
