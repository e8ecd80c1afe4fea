"""A call's failure leaves kube/ as a kube.errors error; a 429 is retried within the budget."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from recording_operator.kube.calling import call, call_unless_gone
from recording_operator.kube.errors import Invalid, Unavailable


def _answers(*outcomes: object) -> tuple[list[float], Callable[[], Awaitable[Any]]]:
    """A call that fails or answers as ``outcomes`` say, one per attempt; and its times."""
    attempts: list[float] = []
    pending = list(outcomes)

    async def attempt() -> Any:
        attempts.append(time.monotonic())
        outcome = pending.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return attempts, attempt


def _status(code: int, retry_after: str | None = None) -> ApiException:
    exc = ApiException(status=code, reason="Too Many Requests" if code == 429 else "Error")
    exc.body = b'{"message":"slow down"}'
    headers: Any = {"Retry-After": retry_after} if retry_after else {}
    exc.headers = headers
    return exc


async def test_a_429_is_retried_after_the_servers_pause_within_the_budget() -> None:
    attempts, attempt = _answers(_status(429, "0.2"), {"items": []})
    assert await call("listing Recordings", attempt, budget=5) == {"items": []}
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 0.2


async def test_without_a_budget_a_429_is_the_callers_to_handle() -> None:
    _, attempt = _answers(_status(429, "0.2"), {"items": []})
    with pytest.raises(Unavailable) as caught:
        await call("listing Recordings", attempt)
    assert caught.value.status == 429 and caught.value.retry_after == 0.2


async def test_other_refusals_are_not_retried() -> None:
    attempts, attempt = _answers(_status(422), {"ok": True})
    with pytest.raises(Invalid) as caught:
        await call("creating the Recording", attempt, budget=5)
    assert len(attempts) == 1
    assert str(caught.value) == "creating the Recording: 422 Error: slow down"


async def test_a_missing_object_can_be_an_answer() -> None:
    _, attempt = _answers(_status(404))
    assert await call_unless_gone("reading the Recording", attempt) is None
