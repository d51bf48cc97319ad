"""Benchmark scripts (run as modules from the repo root: python -m bench.search, python -m bench.ingest)."""
