"""Spotify playlists and playlist exports to the tracks, playlists and claims tables.

Modules: ``refs`` (what users paste), ``auth`` (PKCE sign-in, client credentials,
private token cache), ``client`` (spotipy with our own capped retries), ``fetch``
(playlist items page by page), ``exports`` (Exportify / plain CSV files),
``dedupe`` (one row per recording), ``collect`` (the resumable pipeline), ``cmd``
(the command line) and ``bench`` (requests per 1,000 tracks).
"""
