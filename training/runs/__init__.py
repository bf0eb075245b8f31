"""A training run: its folder (``RunDir``), the resumable fit loop, and loading it back for prediction."""
