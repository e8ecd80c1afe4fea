"""recording_operator.timeouts: bounded waits that never lose a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from recording_operator.timeouts import wait_event


async def test_says_whether_the_event_came_in_time() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True
    assert await wait_event(event, 0) is True, "an event already set needs no wait"


async def test_a_cancellation_that_meets_the_event_still_cancels() -> None:
    """The moment asyncio.wait_for gets wrong on 3.11: the event is set and the waiter
    cancelled before it runs again. The waiter must end cancelled, or a stop that cancels a
    loop and awaits it (the local kubelet's probes) waits forever."""
    event = asyncio.Event()
    ran_on = asyncio.Event()

    async def loop_until_cancelled() -> None:
        while True:
            await wait_event(event, 5)
            event.clear()
            ran_on.set()

    task = asyncio.create_task(loop_until_cancelled())
    await asyncio.sleep(0)  # the task now waits on the event
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await task
    assert not ran_on.is_set()
