"""The review web app (``python -m labeling review``): browse, listen, decide, into overrides.csv.

:mod:`.data` loads and filters the tables, :mod:`.actions` writes decisions, :mod:`.images`
draws a track's spectrogram, :mod:`.app` is the FastAPI application, :mod:`.bench` measures it.
"""
