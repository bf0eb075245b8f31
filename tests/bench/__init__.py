"""Benchmarks that need the local protocol servers of ``tests.servers`` (``make bench-spotify``), and the
chaos benchmark that kills every stage mid-run and checks what the rerun leaves (``make chaos``).

They live under ``tests`` because runtime packages never import test tooling.
"""
