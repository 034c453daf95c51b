"""Benchmarks run by ``make bench``; results are recorded as ratios in docs/benchmarks.md."""
