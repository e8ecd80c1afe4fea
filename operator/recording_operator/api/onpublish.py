"""What a publish or an unpublish does: wake the stream's waiting tasks, start and end the
tasks of the app's StreamMap rules.

* publish: every task of that stream that is not recording gets a fresh
  ``published`` annotation (its recorder, waiting for the stream, watches its own Recording and
  tries at once instead of at its next poll); then one Recording per matching rule, named from
  (vhost, app, stream, rule) so that the Kubernetes API itself refuses a second one while the
  first exists, whatever the notifications do and however many API replicas receive them.
* unpublish: the stream's rule tasks are deleted, as stopRecord deletes any task: the operator
  stops the recorder, which finishes the open file with ``lastSequence`` true, and the task
  leaves the list.

Notifications of one stream are applied in the order they arrived (one lock per stream), so a
publish and its unpublish received together leave the state of the last one. A publish that
finds the previous session's rule task still finishing waits until it is gone, then starts the
new one: a stream that returns gets new tasks.

Everything here runs after the media server has had its answer (api/notify.py), so a slow or
absent Kubernetes API delays recording, never a publish.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..model.config import Config
from ..model.naming import rule_recording_name
from ..model.resource import ANNOTATION_PUBLISHED, LABEL_RULE, State
from ..model.streammap import StreamMapRule, matching, new_rule_id
from ..model.task import task_state
from ..model.timefmt import format_time, now
from . import metrics
from .dialects import Event, StreamEvent
from .manifest import recording_manifest
from .store import (
    AlreadyExists,
    QuotaExceeded,
    Recording,
    RecordingStore,
    Rejected,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

DEFAULT_VHOST = "default"
#: How long a publish waits for the previous session's rule task to finish before giving up.
REPLACE_TIMEOUT_S = 120.0
_REPLACE_POLL_S = 0.2


def _stream_of(recording: Recording) -> str | None:
    stream = (recording.get("spec") or {}).get("stream") or {}
    name = stream.get("name")
    return name if isinstance(name, str) else None


def _deleting(recording: Recording) -> bool:
    return bool((recording.get("metadata") or {}).get("deletionTimestamp"))


class PublishEffects:
    """Applies stream events to the Recordings; one per API app."""

    def __init__(
        self,
        config: Config,
        store: Callable[[], RecordingStore],
        *,
        replace_timeout: float = REPLACE_TIMEOUT_S,
    ) -> None:
        self._config = config
        self._store = store
        self._replace_timeout = replace_timeout
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        #: Events holding or awaiting each lock: a lock goes when its last user is done.
        self._users: Counter[tuple[str, str, str]] = Counter()
        self._pending: set[asyncio.Task[None]] = set()
        #: Counts by outcome (received, ignored_unknown_app, woken, rule_started, rule_ended,
        #: failed) of this app; the process's totals are on /metrics.
        self.counts: Counter[str] = Counter()

    def _count(self, outcome: str) -> None:
        self.counts[outcome] += 1
        metrics.count(outcome)

    def submit(self, event: StreamEvent, vhost: str) -> bool:
        """Schedules the event's effects and returns at once; False when the app is unknown
        (ignored, with a log line)."""
        self._count("received")
        vhost = event.vhost or vhost
        if self._config.app(vhost, event.app) is None:
            self._count("ignored_unknown_app")
            log.info("ignored %s of %s/%s/%s: no such vhost/app in the config",
                     event.event.value, vhost, event.app, event.stream)
            return False
        task = asyncio.create_task(self._apply(event, vhost))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return True

    async def drain(self) -> None:
        """Waits for every scheduled effect (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._pending):
            task.cancel()
        await self.drain()

    async def _apply(self, event: StreamEvent, vhost: str) -> None:
        key = (vhost, event.app, event.stream)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                if event.event is Event.PUBLISH:
                    await self.published(vhost, event.app, event.stream)
                else:
                    await self.unpublished(vhost, event.app, event.stream)
        except (StoreUnavailable, Rejected, QuotaExceeded) as exc:
            self._count("failed")
            log.warning("%s of %s/%s/%s not applied: %s (polling remains)", event.event.value,
                        vhost, event.app, event.stream, exc)
        except Exception:
            self._count("failed")
            log.exception("%s of %s/%s/%s failed", event.event.value, vhost, event.app,
                          event.stream)
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    async def published(self, vhost: str, app: str, stream: str) -> None:
        namespace = self._config.namespace_of(vhost, app)
        store = self._store()
        everything = await store.list(namespace, vhost, app)
        tasks = [r for r in everything if _stream_of(r) == stream]
        await self._wake(store, namespace, tasks)
        app_cfg = self._config.app(vhost, app)
        count = len(everything)
        for rule in matching(app_cfg.rules if app_cfg else [], stream):
            # the app's maxTasks bounds rule tasks as it bounds startRecord (a soft limit)
            limit = app_cfg.max_tasks if app_cfg else None
            if limit is not None and count >= limit:
                self._count("refused_limit")
                log.warning("rule %r not applied to %s/%s/%s: the app has its maxTasks (%d)",
                            rule.stream_name, vhost, app, stream, limit)
                return
            if await self._start_rule_task(store, namespace, vhost, app, stream, rule):
                count += 1

    async def _wake(self, store: RecordingStore, namespace: str, tasks: list[Recording]) -> None:
        mark = {ANNOTATION_PUBLISHED: format_time(now())}
        waiting = [r for r in tasks
                   if not _deleting(r) and task_state(r) in (State.READY, State.STOPPED)]
        results = await asyncio.gather(
            *(store.annotate(namespace, r["metadata"]["name"], mark) for r in waiting),
            return_exceptions=True)
        for recording, result in zip(waiting, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("could not wake %s: %s", recording["metadata"]["name"], result)
            elif result:
                self._count("woken")

    async def _start_rule_task(self, store: RecordingStore, namespace: str, vhost: str,
                               app: str, stream: str, rule: StreamMapRule) -> bool:
        """Makes the rule's task for the stream; True when a new one was made."""
        name = rule_recording_name(vhost, app, stream, rule.key)
        body = recording_manifest(
            rule.spec(vhost, app, stream, new_rule_id()), namespace, format_time(now()),
            name=name, labels={LABEL_RULE: rule.key})
        deadline = time.monotonic() + self._replace_timeout
        while True:
            try:
                await store.create(namespace, body)
            except AlreadyExists:
                existing = await store.by_name(namespace, name)
                if existing is not None and not _deleting(existing):
                    log.info("rule task %s for %s/%s/%s exists already", name, vhost, app,
                             stream)
                    return False
                # the previous session's task is finishing its last file (or went in between):
                # the new one follows
                if time.monotonic() > deadline:
                    self._count("failed")
                    log.warning("rule task %s still finishing after %.0f s; not restarted",
                                name, self._replace_timeout)
                    return False
                await asyncio.sleep(_REPLACE_POLL_S)
                continue
            self._count("rule_started")
            log.info("rule %r started task %s for %s/%s/%s", rule.stream_name, name, vhost,
                     app, stream)
            return True

    async def unpublished(self, vhost: str, app: str, stream: str) -> None:
        namespace = self._config.namespace_of(vhost, app)
        store = self._store()
        rule_tasks = [
            r for r in await store.list(namespace, vhost, app)
            if _stream_of(r) == stream and LABEL_RULE in _labels(r) and not _deleting(r)
        ]
        for recording in rule_tasks:
            if await store.delete(namespace, recording["metadata"]["name"]):
                self._count("rule_ended")


def _labels(recording: Recording) -> dict[str, Any]:
    labels = (recording.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}
