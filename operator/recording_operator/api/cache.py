"""A watch-backed cache of Recordings, so records answers from memory at thousands of tasks.

A LIST of 1,000 Recordings costs the API server and this process ~50-100 ms (a megabyte of
JSON with managedFields); the watch delivers each change once, in a few hundred bytes. One
informer per namespace of the config keeps every Recording of that namespace, indexed by
(vhost, app).

Guarantees:

* read-your-writes for this replica: a create or delete made through it is applied to the
  cache before the call returns, and watch events older than that write are ignored (compared
  by resourceVersion), so a client never sees its own task vanish or come back;
* never stale answers from a broken watch: while a namespace is not synced (start-up, the
  API server unreachable, a relist after 410 Gone) its reads go to the API server, which
  yields the usual 503 when it is down;
* duplicates and stops stay authoritative: ``find`` always asks the API server, since a
  kubectl-made Recording may have been created a moment ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

from .store import KubernetesStore, Recording, StoreUnavailable

log = logging.getLogger(__name__)

#: The server ends each watch after this long (randomised, as client-go does, to spread
#: relists); bookmarks keep the resume point fresh meanwhile.
WATCH_SECONDS = (240, 300)
BACKOFF_SECONDS = (0.2, 5.0)


def _rv(obj: Recording) -> int | None:
    """The resourceVersion as a number, when it is one (it is, with etcd3 storage)."""
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return None


def _app_key(obj: Recording) -> tuple[str, str]:
    spec = obj.get("spec") or {}
    return str(spec.get("vhost", "default")), str(spec.get("app", "app"))


def _is_gone(obj: Recording) -> bool:
    """True when a delete's answer says the object is gone (no finalizer held it)."""
    if obj.get("kind") == "Status":
        return True
    metadata = obj.get("metadata") or {}
    return not metadata.get("finalizers")


class NamespaceCache:
    """The Recordings of one namespace, kept current by LIST + WATCH."""

    def __init__(self, store: KubernetesStore, namespace: str) -> None:
        self.store = store
        self.namespace = namespace
        self.synced = False
        self._by_name: dict[str, Recording] = {}
        self._by_app: dict[tuple[str, str], dict[str, Recording]] = {}
        #: name -> resourceVersion at which we saw it deleted: older events must not revive it
        self._tombstones: dict[str, int] = {}
        self._resource_version = ""

    # -- reads ----------------------------------------------------------------------------

    def recordings(self, vhost: str, app: str) -> list[Recording]:
        return list(self._by_app.get((vhost, app), {}).values())

    # -- applying changes -----------------------------------------------------------------

    def _newer(self, name: str, rv: int | None) -> bool:
        if rv is None:
            return True
        current = self._by_name.get(name)
        current_rv = _rv(current) if current is not None else None
        if current_rv is not None and current_rv > rv:
            return False
        tombstone = self._tombstones.get(name)
        return tombstone is None or rv > tombstone

    def upsert(self, obj: Recording) -> None:
        name = obj["metadata"]["name"]
        rv = _rv(obj)
        if not self._newer(name, rv):
            return
        self._tombstones.pop(name, None)
        self._drop(name)
        self._by_name[name] = obj
        self._by_app.setdefault(_app_key(obj), {})[name] = obj

    def remove(self, obj: Recording) -> None:
        name = obj["metadata"]["name"]
        rv = _rv(obj)
        if not self._newer(name, rv):
            return
        current = self._by_name.get(name)
        known = [v for v in (rv, _rv(current) if current else None) if v is not None]
        self._drop(name)
        if known:
            self._tombstones[name] = max(known)

    def _drop(self, name: str) -> None:
        old = self._by_name.pop(name, None)
        if old is not None:
            members = self._by_app.get(_app_key(old))
            if members is not None:
                members.pop(name, None)
                if not members:
                    self._by_app.pop(_app_key(old), None)

    def _advance(self, resource_version: str) -> None:
        """The watch got to ``resource_version``: older events cannot come any more."""
        self._resource_version = resource_version
        with contextlib.suppress(ValueError):
            reached = int(resource_version)
            self._tombstones = {n: rv for n, rv in self._tombstones.items() if rv > reached}

    def _replace(self, items: list[Recording], resource_version: str) -> None:
        self._by_name.clear()
        self._by_app.clear()
        self._tombstones.clear()
        for item in items:
            self.upsert(item)
        self._resource_version = resource_version

    # -- the informer loop ------------------------------------------------------------------

    async def run(self) -> None:
        """Lists, then watches, forever; relists after 410 Gone; backs off while the API
        server is unavailable (reads meanwhile go to the API server)."""
        backoff = BACKOFF_SECONDS[0]
        need_list = True
        while True:
            try:
                if need_list:
                    answer = await self.store.list_namespace(self.namespace)
                    self._replace(answer.get("items") or [],
                                  str(answer["metadata"].get("resourceVersion", "")))
                    need_list = False
                    self.synced = True
                seconds = random.randint(*WATCH_SECONDS)  # noqa: S311 - spreading, not secrecy
                events = await self.store.open_watch(
                    self.namespace, self._resource_version, seconds
                )
                self.synced = True
                backoff = BACKOFF_SECONDS[0]
                need_list = await self._follow(events)
            except StoreUnavailable as exc:
                self.synced = False
                need_list = need_list or exc.gone
                log.warning("Recording cache of namespace %s: %s", self.namespace, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_SECONDS[1])

    async def _follow(self, events: AsyncIterator[Recording]) -> bool:
        """Applies one watch's events until the server ends it; True when a fresh list is
        needed."""
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            return await self._apply_events(events)

    async def _apply_events(self, events: AsyncIterator[Recording]) -> bool:
        async for event in events:
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                code = obj.get("code")
                log.info("Recording watch of %s ended: %s", self.namespace, obj.get("message"))
                return code == 410
            if kind in ("ADDED", "MODIFIED"):
                self.upsert(obj)
            elif kind == "DELETED":
                self.remove(obj)
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv:
                self._advance(str(rv))
        return False


class CachedStore:
    """:class:`KubernetesStore` with ``list`` answered from the namespaces' caches."""

    def __init__(self, store: KubernetesStore, namespaces: list[str]) -> None:
        self.store = store
        self.caches = {ns: NamespaceCache(store, ns) for ns in namespaces}
        self._tasks: list[asyncio.Task[Any]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(cache.run(), name=f"recording-cache-{ns}")
            for ns, cache in self.caches.items()
        ]

    @property
    def synced(self) -> bool:
        """Every namespace's cache is current (reads come from memory)."""
        return all(cache.synced for cache in self.caches.values())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.close()

    async def find(self, namespace: str, vhost: str, app: str, record_id: str) -> list[Recording]:
        return await self.store.find(namespace, vhost, app, record_id)

    async def list(self, namespace: str, vhost: str, app: str) -> list[Recording]:
        cache = self.caches.get(namespace)
        if cache is not None and cache.synced:
            return cache.recordings(vhost, app)
        return await self.store.list(namespace, vhost, app)

    async def create(self, namespace: str, body: Recording) -> Recording:
        created = await self.store.create(namespace, body)
        cache = self.caches.get(namespace)
        if cache is not None:
            cache.upsert(created)
        return created

    async def by_name(self, namespace: str, name: str) -> Recording | None:
        return await self.store.by_name(namespace, name)

    async def annotate(self, namespace: str, name: str, annotations: dict[str, str]) -> bool:
        # the cache learns the new version from its watch; nobody reads the annotation back
        return await self.store.annotate(namespace, name, annotations)

    async def delete(self, namespace: str, name: str) -> bool:
        answer = await self.store.delete_returning(namespace, name)
        cache = self.caches.get(namespace)
        if answer is not None and cache is not None:
            if _is_gone(answer):
                gone = answer if answer.get("kind") != "Status" else None
                cache.remove(gone or {"metadata": {"name": name}})
            else:
                cache.upsert(answer)
        return answer is not None
