"""Download the matched YouTube audio and convert it to 16 kHz mono WAV, with checks and a benchmark.

``download`` (yt-dlp, embedded), ``convert`` (ffmpeg-python), ``checks`` (hash,
duration, silence), ``pipeline`` (the resumable ``download`` stage), ``doctor``
(is this machine ready?), ``bench`` (conversion throughput vs plain ffmpeg).
"""
