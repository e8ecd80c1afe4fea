"""Retry delays: doubling from ``first`` up to ``cap`` (one rule for uploads and events)."""

from __future__ import annotations


def delay(attempts: int, first: float, cap: float) -> float:
    """The wait after ``attempts`` failed attempts (1 -> first, 2 -> 2*first, ... <= cap)."""
    return float(min(cap, first * 2 ** max(0, min(attempts - 1, 30))))
