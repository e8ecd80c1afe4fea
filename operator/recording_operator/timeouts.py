"""Waiting with a time limit without losing a cancellation.

On Python 3.11, ``asyncio.wait_for`` swallows a cancellation that arrives just as the awaited
thing finishes (CPython gh-86296, fixed in 3.12): it returns the result, the cancelled task
goes on, and whoever cancelled it and awaits it waits forever. A probe loop did exactly that
and hung the local kubelet's stop. ``asyncio.timeout`` has no such window, so every bounded
wait here uses it, and ruff bans ``asyncio.wait_for`` (pyproject's banned-api).

It imports nothing of ours, so every layer may use it.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Waits until ``event`` is set or ``seconds`` pass; True when it is set."""
    try:
        async with asyncio.timeout(max(seconds, 0.0)):
            await event.wait()
    except TimeoutError:
        pass
    return event.is_set()
