"""Waiting on a condition with a deadline: the one way the suite waits (never sleep-and-hope)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None],
    timeout: float,
    what: str,
    explain: Callable[[], str] | None = None,
    *,
    interval: float = 0.1,
) -> T:
    """Polls ``condition`` until it returns something truthy, which is returned; after
    ``timeout`` seconds fails with ``what``, the last value seen and ``explain()`` if given."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() > deadline:
            extra = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what} (last: {last!r}){extra}")
        time.sleep(interval)
