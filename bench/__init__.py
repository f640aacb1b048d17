"""Benchmarks: `python -m bench` (or `make bench`). Figures go into BENCHMARKS.md."""
