"""Models usable without the toolkit (``python -m training export RUN``)."""
