"""Fetch from the world: playlists, label sources, YouTube audio, the synthetic corpus."""
