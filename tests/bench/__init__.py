"""Benchmarks that need the local protocol servers of ``tests.servers`` (``make bench-spotify``).

They live under ``tests`` because runtime packages never import test tooling.
"""
