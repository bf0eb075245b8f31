"""The model web app and API (``python -m training serve RUN``)."""
