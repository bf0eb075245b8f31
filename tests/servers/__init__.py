"""Local servers that speak the services' protocols, shared by the tests and the benchmarks.

Real clients (spotipy, requests, yt-dlp) talk to these on 127.0.0.1, faults
included: ``local_site`` (any HTTP site with scripted replies), ``musicbrainz``
(the MusicBrainz web service), ``media`` (YouTube-like media files with range
requests) and ``spotify`` (the Web API and accounts service, contract-checked).
They are test tooling, not runtime code: nothing under ``manifests``,
``collectors``, ``labeling`` or ``training`` imports them (import-linter checks).
"""
