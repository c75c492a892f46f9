"""Helpers shared by the benchmarks in ``benches/`` (not part of the memlane package)."""
