"""A watch-backed cache of Recordings, so records answers from memory at thousands of tasks,
with the consistency of a LIST sent to the API server.

A LIST of 1,000 Recordings costs the API server and this process ~50-100 ms (a megabyte of
JSON with managedFields); the watch delivers each change once, in a few hundred bytes. One
informer per namespace of the config keeps every Recording of that namespace, trimmed to what
the API reads (no managedFields, no last-applied annotation, no file list or conditions), and
indexed by (vhost, app). Each cached Recording carries its rendered task view (see
``api.views``), so there is one rendering per object and it goes when the object does.

Guarantees:

* **consistent reads, on any replica**: ``list`` answers with a state at least as new as every
  write that finished before the call began, whoever made it (another API replica, kubectl, the
  operator) — what the API server guarantees for a LIST without a resourceVersion. Before
  answering it learns the collection's current resourceVersion R (a LIST of one item, which the
  API server answers consistently from its own watch cache), then:

  1. the watch is at R or past it: answer from memory (the common case while recorders report);
  2. otherwise wait, bounded (:data:`CATCH_UP_SECONDS`, not at all when no Recording changed
     for :data:`QUIET_SECONDS`), for the watch to reach R;
  3. otherwise **verify**: R may belong to a write of anything else (a Lease renewal, an
     Event), which no Recording watch will ever pass. A consistent LIST of the Recordings as a
     Table of one printer column (their resourceVersions, ~100 bytes each, no objects) says
     which version of each Recording the API server has at R' >= R. Where the cache is behind,
     those versions are already on the watch's way: wait for them (bounded); Recordings the
     cache holds that the server no longer has were deleted by R'. The cache then holds the
     state at R' or newer, and says so (its *floor*): later reads that find nothing newer than
     R' in step 1 answer at once, until something, anywhere, is written again;
  4. otherwise (no column: a CRD older than this API; the watch stalled) ask the API server
     for the app's Recordings (and keep what that LIST taught it).

  Concurrent calls share one version check, one verification, and one such LIST per app: a
  call joins one that starts after it arrived, never one already under way, so no call is
  answered from a read older than itself;
* read-your-writes within a replica at no cost: a create or delete made through it is applied
  to the cache before the call returns, and watch events older than that write are ignored
  (compared by resourceVersion), so a client never sees its own task vanish or come back;
* never stale answers from a broken watch: while a namespace is not synced (start-up, the API
  server unreachable, a relist after 410 Gone, any unexpected error, after which the watch
  starts over) ``list`` answers 503, not a full LIST per call that would pile onto an API
  server already in trouble;
* duplicates and stops stay authoritative: ``find`` always asks the API server, since a
  kubectl-made Recording may have been created a moment ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from ..model.resource import ANNOTATION_CREATED_TIME, VERSION_COLUMN
from ..timeouts import wait_event
from . import metrics
from .store import KubernetesStore, Recording, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The server ends each watch after this long (randomised, as client-go does, to spread
#: relists); bookmarks keep the resume point fresh meanwhile.
WATCH_SECONDS = (240, 300)
BACKOFF_SECONDS = (0.2, 5.0)
#: How long a read waits for the watch to reach the collection's current version before it
#: verifies the cache: at least this, and more the more Recordings the namespace holds
#: (:data:`CATCH_UP_PER_RECORDING`, up to :data:`CATCH_UP_MAX`), about what the verification
#: would cost (measured: its Table LIST takes the API server 21 ms at 1,000 Recordings, 118 ms
#: at 5,000). While Recordings change (recorders report every few seconds) the watch passes
#: the version within milliseconds; in a quiet namespace it is not waited for at all.
CATCH_UP_SECONDS = 0.02
CATCH_UP_PER_RECORDING = 0.00002
CATCH_UP_MAX = 0.25
#: A watch that saw no Recording change for this long is not waited for at all.
QUIET_SECONDS = 2.0
#: How long a verification waits for the watch to bring the versions the API server named:
#: they are on their way, so only a stalled watch takes this long (then: a direct LIST).
VERIFY_WAIT_SECONDS = 1.0
#: Metadata the API reads; the rest (managedFields above all) is dropped on arrival.
_KEPT_METADATA = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp",
                  "deletionTimestamp", "finalizers", "labels")
_DROPPED_STATUS = frozenset({"files", "conditions"})


class CachedRecording(dict[str, Any]):
    """A Recording as the cache keeps it; ``view`` holds its rendered task (``api.views``)."""

    __slots__ = ("view",)

    def __init__(self, data: Recording) -> None:
        super().__init__(data)
        self.view: tuple[str, bytes] | None = None


def trimmed(obj: Recording) -> CachedRecording:
    """What ``records`` and the API's other readers need of a Recording, and no more."""
    metadata = obj.get("metadata") or {}
    kept: dict[str, Any] = {key: metadata[key] for key in _KEPT_METADATA if key in metadata}
    created = (metadata.get("annotations") or {}).get(ANNOTATION_CREATED_TIME)
    if created is not None:
        kept["annotations"] = {ANNOTATION_CREATED_TIME: created}
    result: dict[str, Any] = {"metadata": kept}
    if "spec" in obj:
        result["spec"] = obj["spec"]
    status = obj.get("status")
    if isinstance(status, dict):
        result["status"] = {k: v for k, v in status.items() if k not in _DROPPED_STATUS}
    return CachedRecording(result)


def _rv(obj: Recording | None) -> int | None:
    """The resourceVersion as a number, when it is one (it is, with etcd3 storage)."""
    try:
        return int(obj["metadata"]["resourceVersion"])  # type: ignore[index]
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


class SharedCall(Generic[T]):
    """One call at a time, shared by every caller that arrived before it started.

    A caller arriving while a call runs waits for the next one, which starts as soon as the
    running one ends: every caller gets an answer read after it arrived (what consistency
    needs), and the API server sees at most one such call in flight however many records
    calls come in.
    """

    def __init__(self, fetch: Callable[[], Awaitable[T]]) -> None:
        self._fetch = fetch
        self._next: asyncio.Future[T] | None = None
        self._running: asyncio.Task[None] | None = None
        #: Calls made (the benchmark divides reads by it to show the sharing).
        self.calls = 0

    async def latest(self) -> T:
        future = self._next
        if future is None:
            future = self._next = asyncio.get_running_loop().create_future()
            if self._running is None:
                self._launch()
        return await asyncio.shield(future)

    def _launch(self) -> None:
        assert self._next is not None
        self._running = asyncio.create_task(self._call(self._next))

    async def _call(self, future: asyncio.Future[T]) -> None:
        # Callers that came before this line join this call; from here on they wait for
        # the next one, since the request below may already have been answered for them.
        if self._next is future:
            self._next = None
        self.calls += 1
        try:
            future.set_result(await self._fetch())
        except Exception as exc:  # handed to every waiting caller
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
        finally:
            self._running = None
            if self._next is not None:
                self._launch()


class NamespaceCache:
    """The Recordings of one namespace, kept current by LIST + WATCH."""

    def __init__(self, store: KubernetesStore, namespace: str) -> None:
        self.store = store
        self.namespace = namespace
        self.synced = False
        #: Why the cache is not synced, when the Kubernetes API said (for the 503's message).
        self.last_error = ""
        self._by_name: dict[str, Recording] = {}
        self._by_app: dict[tuple[str, str], dict[str, Recording]] = {}
        #: name -> resourceVersion at which we saw it deleted: older events must not revive it
        self._tombstones: dict[str, int] = {}
        self._resource_version = ""
        #: A version the cache is known to hold the state of (or newer), from a verification:
        #: events at or below it are already reflected, and ignored.
        self._floor = 0
        #: Set (and replaced) whenever the watch moves on: readers waiting to catch up wake.
        self._moved = asyncio.Event()
        self.check: SharedCall[str] = SharedCall(lambda: store.collection_version(namespace))
        self.verification: SharedCall[bool] = SharedCall(self.verify)
        self._no_column_logged = False
        #: One direct LIST at a time per (vhost, app), shared likewise.
        self._direct: dict[tuple[str, str], SharedCall[list[Recording]]] = {}
        self._last_event = 0.0

    def direct(self, vhost: str, app: str) -> SharedCall[list[Recording]]:
        call = self._direct.get((vhost, app))
        if call is None:
            async def fetch() -> list[Recording]:
                return self.absorb(await self.store.list(self.namespace, vhost, app))
            call = self._direct[(vhost, app)] = SharedCall(fetch)
        return call

    @property
    def quiet(self) -> bool:
        """No Recording changed for :data:`QUIET_SECONDS`: the watch will not move soon."""
        return time.monotonic() - self._last_event > QUIET_SECONDS

    @property
    def size(self) -> int:
        """How many Recordings the namespace holds."""
        return len(self._by_name)

    @property
    def version(self) -> int:
        """The version whose state the cache holds, or newer: how far the watch has got, or
        the last verification's, whichever is further (0 before the first list)."""
        try:
            return max(int(self._resource_version), self._floor)
        except ValueError:
            return self._floor

    async def verify(self) -> bool:
        """Brings the cache to the API server's state now (R'), or newer, without the objects:
        True when it holds it, and then :attr:`version` >= R'. False when it cannot tell (the
        CRD has no version column) or the watch did not bring what is missing in time. The
        store's failure propagates (a 503 for the read): an API server that cannot answer this
        small LIST cannot answer the full one a fallback would make either."""
        found = await self.store.collection_versions(self.namespace)
        if found is None:
            if not self._no_column_logged:
                self._no_column_logged = True
                log.warning("The Recording CRD has no %s column (apply crds/recording.yaml of "
                            "this release): consistent records fall back to a LIST",
                            VERSION_COLUMN)
            return False
        listed, versions = found
        try:
            at = int(listed)
            wanted = {name: int(rv) for name, rv in versions.items()}
        except ValueError:
            return False
        behind = 0
        for name, rv in wanted.items():
            current = self._by_name.get(name)
            have = _rv(current) if current is not None else self._tombstones.get(name)
            if have is None or have < rv:
                behind = max(behind, rv)
        for name in [n for n in self._by_name if n not in wanted]:
            held = _rv(self._by_name[name])
            # Absent at R' and held at a version no newer than R': deleted by then. One held
            # at a newer version was made after the LIST (the name reused): it stays.
            if held is None or held <= at:
                self._drop(name)
                self._tombstones[name] = at
        if behind and not await self.reached(behind, VERIFY_WAIT_SECONDS):
            return False
        self._floor = max(self._floor, at)
        self._wake()
        return True

    async def reached(self, target: int, within: float) -> bool:
        """Waits until the watch has got to ``target`` (True), at most ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.version < target:
            left = deadline - loop.time()
            if left <= 0 or not self.synced:
                return False
            await wait_event(self._moved, left)
        return True

    def _wake(self) -> None:
        self._moved.set()
        self._moved = asyncio.Event()

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
        if rv is not None and rv <= self._floor:
            return  # the verified state already has this version of it, or a newer one
        if not self._newer(name, rv):
            return
        kept = obj if isinstance(obj, CachedRecording) else trimmed(obj)
        self._tombstones.pop(name, None)
        self._drop(name)
        self._by_name[name] = kept
        self._by_app.setdefault(_app_key(kept), {})[name] = kept

    def absorb(self, items: list[Recording]) -> list[Recording]:
        """A direct LIST's answer, as cached Recordings: each item, or the cache's own copy
        when that is as new or newer (both are consistent with the LIST); newer items are
        kept for the next reads."""
        answer: list[Recording] = []
        for item in items:
            name = item["metadata"]["name"]
            rv = _rv(item)
            current = self._by_name.get(name)
            current_rv = _rv(current)
            if current is not None and rv is not None and current_rv is not None \
                    and current_rv >= rv:
                answer.append(current)
                continue
            self.upsert(item)
            stored = self._by_name.get(name)
            answer.append(stored if stored is not None and _rv(stored) == rv else trimmed(item))
        return answer

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
            if self._tombstones:
                self._tombstones = {n: rv for n, rv in self._tombstones.items() if rv > reached}
        self._wake()

    def _replace(self, items: list[Recording], resource_version: str) -> None:
        self._by_name.clear()
        self._by_app.clear()
        self._tombstones.clear()
        self._floor = 0  # the list is a newer state than any verified one
        for item in items:
            self.upsert(item)
        self._resource_version = resource_version
        self._wake()

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
                self.last_error = str(exc)
                need_list = need_list or exc.gone
                log.warning("Recording cache of namespace %s: %s", self.namespace, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_SECONDS[1])
            except Exception:  # anything else: never claim to be synced on a dead watch
                self.synced = False
                need_list = True
                log.exception("Recording cache of namespace %s failed; listing afresh",
                              self.namespace)
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
                self._last_event = time.monotonic()
                self.upsert(obj)
            elif kind == "DELETED":
                self._last_event = time.monotonic()
                self.remove(obj)
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv:
                self._advance(str(rv))
        return False


class CachedStore:
    """:class:`KubernetesStore` with ``list`` answered from the namespaces' caches."""

    def __init__(self, store: KubernetesStore, namespaces: list[str], *,
                 consistent: bool = True, catch_up: float = CATCH_UP_SECONDS) -> None:
        self.store = store
        self.caches = {ns: NamespaceCache(store, ns) for ns in namespaces}
        #: False: answer from the cache as it is (no version check; see ApiSettings).
        self.consistent = consistent
        self.catch_up = catch_up
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

    async def wait_synced(self, within: float) -> bool:
        """Waits (at most ``within`` seconds) until every namespace has been listed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                for cache in self.caches.values():
                    while not cache.synced:
                        await cache._moved.wait()
        return self.synced

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
        """The app's Recordings, consistent with every write finished before the call."""
        cache = self.caches.get(namespace)
        if cache is None:
            return await self.store.list(namespace, vhost, app)
        if not cache.synced:
            why = f" ({cache.last_error})" if cache.last_error else ""
            raise StoreUnavailable(
                f"The Recording cache of namespace {namespace} is resyncing with the "
                f"Kubernetes API{why}; try again in a moment")
        if not self.consistent:
            metrics.record_read("unchecked")
            return cache.recordings(vhost, app)
        answer = await self._consistent_answer(cache)
        metrics.record_read(answer)
        if answer == "list":
            return await cache.direct(vhost, app).latest()
        return cache.recordings(vhost, app)

    async def _consistent_answer(self, cache: NamespaceCache) -> str:
        """How a read is answered consistently (the steps of this module's docstring):
        ``current``, ``caught_up``, ``verified`` (from memory) or ``list``."""
        current = await cache.check.latest()
        try:
            target = int(current)
        except ValueError:
            return "list"
        if cache.version >= target:
            return "current"
        within = min(max(self.catch_up, CATCH_UP_PER_RECORDING * cache.size), CATCH_UP_MAX)
        if not cache.quiet and await cache.reached(target, within):
            return "caught_up"
        if await cache.verification.latest() and cache.version >= target:
            return "verified"
        return "list"

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
