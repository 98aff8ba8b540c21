"""Benchmarks (run as scripts or with `python -m benchmarks.NAME`); see README "Benchmarks"."""
