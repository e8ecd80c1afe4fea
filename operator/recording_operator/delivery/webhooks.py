"""Sends the outbox: signed CloudEvents to each receiver, at least once, in order per Recording.

Each (receiver, Recording) pair is a line: only its oldest undelivered event is tried, so a
receiver sees one Recording's events in the order they happened, while a slow line does not
hold up the others. A 2xx answer ends an event's retries; anything else (refused, timeout,
5xx, 4xx) is retried with backoff until ``retry_for`` after the event was made, then given up
(counted, logged). The body is the stored one, byte for byte; only the signature's timestamp is
new on each attempt, as Standard Webhooks wants.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp

from . import signing
from .backoff import delay
from .events import CONTENT_TYPE
from .journal import Journal, OutboxRow

log = logging.getLogger(__name__)

#: (target "vhost/app", receiver URL) -> the receiver's secret
SecretLookup = Callable[[str, str], Awaitable[str]]


class WebhookSender:
    def __init__(self, journal: Journal, secret_of: SecretLookup, *,
                 retry_for: float = 24 * 3600, first_delay: float = 1.0,
                 max_delay: float = 300.0, timeout: float = 10.0,
                 on_result: Callable[[OutboxRow, bool, str | None], None] | None = None) -> None:
        self.journal = journal
        self._secret_of = secret_of
        self.retry_for = retry_for
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._on_result = on_result

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_due(self) -> float | None:
        """Tries every due line head once; returns when the next attempt is due (or None)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        while True:
            rows = self.journal.due_events(time.time())
            if not rows:
                return self.journal.next_event_time()
            results = await asyncio.gather(*(self._send(row) for row in rows))
            if not any(results):
                return self.journal.next_event_time()

    async def _send(self, row: OutboxRow) -> bool:
        """True when delivered (the line's next event may go at once)."""
        assert self._session is not None
        error: str | None = None
        try:
            secret = await self._secret_of(row.target, row.receiver)
            headers = {"content-type": CONTENT_TYPE,
                       **signing.headers(secret, row.event_id, row.body)}
            async with self._session.post(row.receiver, data=row.body, headers=headers,
                                          allow_redirects=False) as answer:
                await answer.read()
                if 200 <= answer.status < 300:
                    self.journal.delivered(row.seq)
                    if self._on_result:
                        self._on_result(row, True, None)
                    return True
                error = f"{row.receiver} answered HTTP {answer.status}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = f"cannot reach {row.receiver}: {exc or type(exc).__name__}"
        except LookupError as exc:
            error = f"no secret for {row.receiver}: {exc}"
        now = time.time()
        wait = delay(row.attempts + 1, self.first_delay, self.max_delay)
        give_up = now + wait > row.created + self.retry_for
        self.journal.attempt_failed(row.seq, error, None if give_up else now + wait)
        if give_up:
            log.error("giving up event %s (%s) to %s after %d attempts: %s", row.event_id,
                      row.kind, row.receiver, row.attempts + 1, error)
        else:
            log.warning("event %s to %s: %s; retry in %.0fs", row.event_id, row.receiver,
                        error, wait)
        if self._on_result:
            self._on_result(row, False, error)
        return False
