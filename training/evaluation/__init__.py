"""Scoring a finished run: test-split metrics, the MFCC baseline, plots and the Markdown report."""
