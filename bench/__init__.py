"""Benchmarks anyone can rerun: ``make bench`` (``python -m bench``) runs them all and writes
docs/benchmarks.md; each script also runs alone (``python bench/<script>.py [--tiny]``)."""
