"""One call to the Kubernetes API through kubernetes_asyncio, and what its failure becomes.

Every client call of ours (``kube.recordings``, ``kube.pods``) goes through :func:`call`, so a
client library exception never leaves ``kube/``: it becomes a :mod:`~.errors` error, and a 429
(the API server's flow control, or a resource's storage still initialising: the request was not
processed) is retried after the server's Retry-After, as client-go does, while the budget lasts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from .errors import KubeError, NotFound, Unavailable, translate

T = TypeVar("T")

#: A dict body would otherwise be sent as a JSON patch (the generated client's first choice).
MERGE_PATCH: dict[str, Any] = {"_content_type": "application/merge-patch+json"}
#: Bounds of the pause before retrying a 429 (the server's Retry-After, clamped).
RETRY_AFTER_BOUNDS = (0.05, 1.0)


def retry_pause(error: KubeError) -> float:
    """Seconds to wait before retrying a 429: the server's Retry-After, within the bounds."""
    low, high = RETRY_AFTER_BOUNDS
    return min(max(error.retry_after or 0.1, low), high)


async def call(doing: str, fn: Callable[[], Awaitable[T]], budget: float | None = None) -> T:
    """``fn()``, with its failures as :class:`~.errors.KubeError` (``doing`` says what it was
    for, in the error's message). With a ``budget`` (seconds), a 429 is retried within it."""
    deadline = None if budget is None else time.monotonic() + budget
    while True:
        try:
            return await fn()
        except (ApiException, TimeoutError, OSError, aiohttp.ClientError) as exc:
            error = translate(exc, doing)
        if isinstance(error, Unavailable) and error.status == 429 and deadline is not None:
            pause = retry_pause(error)
            if time.monotonic() + pause < deadline:
                await asyncio.sleep(pause)
                continue
        raise error



async def call_unless_gone(
    doing: str, fn: Callable[[], Awaitable[T]], budget: float | None = None
) -> T | None:
    """:func:`call`, with None for an object that is not there (404) instead of an error."""
    try:
        return await call(doing, fn, budget)
    except NotFound:
        return None
