"""The watch-backed cache's ordering rules: a write seen through this replica is never undone
by an older watch event, and a deleted Recording does not come back from a late event."""

from __future__ import annotations

import asyncio
from typing import Any

from recording_operator.api.cache import CachedStore, NamespaceCache, SharedCall
from recording_operator.api.store import KubernetesStore, StoreUnavailable
from recording_operator.model.task import task_view


def rec(name: str, rv: int, *, record_id: str | None = None, app: str = "app",
        state: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "resourceVersion": str(rv), "uid": f"uid-{name}"},
        "spec": {"id": record_id or name, "vhost": "default", "app": app,
                 "stream": {"name": "s"}},
    }
    if state:
        obj["status"] = {"state": state}
    return obj


def cache() -> NamespaceCache:
    return NamespaceCache(store=KubernetesStore.__new__(KubernetesStore), namespace="ns")


def ids(c: NamespaceCache, app: str = "app") -> list[str]:
    return sorted(r["spec"]["id"] for r in c.recordings("default", app))


def test_upsert_and_index_by_app() -> None:
    c = cache()
    c.upsert(rec("a", 1))
    c.upsert(rec("b", 2, app="app2"))
    assert ids(c) == ["a"]
    assert ids(c, "app2") == ["b"]
    assert c.recordings("other", "app") == []


def test_an_older_event_does_not_undo_a_newer_write() -> None:
    c = cache()
    c.upsert(rec("a", 5, state="recording"))
    c.upsert(rec("a", 4, state="ready"))
    [only] = c.recordings("default", "app")
    assert only["status"]["state"] == "recording"


def test_a_deleted_recording_is_not_revived_by_a_late_event() -> None:
    c = cache()
    c.upsert(rec("a", 5))
    c.remove(rec("a", 6))
    c.upsert(rec("a", 5))  # a MODIFIED event from before the delete, arriving late
    assert ids(c) == []
    c.upsert(rec("a", 9))  # created again later: a newer version is welcome
    assert ids(c) == ["a"]


def test_a_delete_without_a_version_keeps_the_last_known_one_as_tombstone() -> None:
    c = cache()
    c.upsert(rec("a", 7))
    c.remove({"metadata": {"name": "a"}})
    c.upsert(rec("a", 7))
    assert ids(c) == []


def test_tombstones_are_dropped_once_the_watch_has_passed_them() -> None:
    c = cache()
    c.upsert(rec("a", 5))
    c.remove(rec("a", 6))
    c._advance("10")
    assert c._tombstones == {}


def test_replace_resets_everything() -> None:
    c = cache()
    c.upsert(rec("a", 5))
    c.remove(rec("a", 6))
    c._replace([rec("b", 7)], "7")
    assert ids(c) == ["b"]
    assert c._tombstones == {}


def test_moving_between_apps_is_impossible_but_harmless() -> None:
    # the spec is immutable; if a newer version ever named another app, the index follows
    c = cache()
    c.upsert(rec("a", 1))
    c.upsert(rec("a", 2, app="app2"))
    assert ids(c) == []
    assert ids(c, "app2") == ["a"]


def test_only_what_the_api_reads_is_kept() -> None:
    big = rec("a", 3, state="recording")
    big["metadata"].update({
        "managedFields": [{"manager": "recorder", "fieldsV1": {"f:status": {}}}] * 20,
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "x" * 5000,
                        "recording-operator.dev/created-time": "2026-03-15T21:15:20.113+09:00"},
        "labels": {"recording-operator.dev/rule": "r"},
        "deletionTimestamp": "2026-03-15T21:15:20Z", "finalizers": ["f"]})
    big["status"].update({"files": [{"path": "x"}] * 50, "conditions": [{"type": "Ready"}],
                          "recordBytes": 7})
    c = cache()
    c.upsert(big)
    [kept] = c.recordings("default", "app")
    assert "managedFields" not in kept["metadata"]
    assert kept["metadata"]["annotations"] == {
        "recording-operator.dev/created-time": "2026-03-15T21:15:20.113+09:00"}
    assert kept["metadata"]["labels"] == {"recording-operator.dev/rule": "r"}
    assert kept["metadata"]["deletionTimestamp"] and kept["metadata"]["finalizers"] == ["f"]
    assert kept["status"] == {"state": "recording", "recordBytes": 7}
    assert task_view(kept) == task_view(big), "records shows the same task"


def test_a_direct_list_answer_prefers_the_newer_copy_and_teaches_the_cache() -> None:
    c = cache()
    c.upsert(rec("a", 9, state="recording"))
    answer = c.absorb([rec("a", 5, state="ready"), rec("b", 6)])
    assert {r["metadata"]["name"]: r["metadata"]["resourceVersion"] for r in answer} == {
        "a": "9", "b": "6"}
    assert ids(c) == ["a", "b"]


async def test_a_read_waits_for_the_watch_to_reach_the_version() -> None:
    c = cache()
    c._advance("5")
    assert await c.reached(5, 0.01)
    c.synced = True
    waiter = asyncio.create_task(c.reached(8, 5.0))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    c._advance("7")
    await asyncio.sleep(0.01)
    assert not waiter.done()
    c._advance("8")
    assert await waiter
    assert not await c.reached(20, 0.02), "bounded"


async def test_concurrent_reads_share_one_version_check_begun_after_they_arrived() -> None:
    started: list[asyncio.Event] = []
    release = asyncio.Event()
    counter = iter(range(1, 100))

    async def fetch() -> str:
        number = next(counter)
        started.append(asyncio.Event())
        await release.wait()
        return str(number)

    check = SharedCall(fetch)
    early = [asyncio.create_task(check.latest()) for _ in range(5)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert check.calls == 1
    late = [asyncio.create_task(check.latest()) for _ in range(5)]  # the first check runs
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*early) == ["1"] * 5
    assert await asyncio.gather(*late) == ["2"] * 5, "late callers get a check of their own"
    assert check.calls == 2


async def test_a_failed_check_reaches_every_waiting_caller() -> None:
    async def fetch() -> str:
        raise StoreUnavailable("down")

    check = SharedCall(fetch)
    results = await asyncio.gather(check.latest(), check.latest(), return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results)


class BreakingStore:
    """The store's side of the watch: one list, then a watch that fails in an unexpected way
    (not the Kubernetes errors the store translates), then a quiet watch."""

    def __init__(self) -> None:
        self.lists = 0
        self.watches = 0
        self.quiet = asyncio.Event()

    async def list_namespace(self, namespace: str) -> dict[str, Any]:
        self.lists += 1
        return {"items": [rec("a", 1)], "metadata": {"resourceVersion": str(self.lists)}}

    async def open_watch(self, namespace: str, version: str, seconds: int) -> Any:
        self.watches += 1
        broken = self.watches == 1

        async def events() -> Any:
            if broken:
                yield {"type": "ADDED", "object": rec("b", 2)}
                raise RuntimeError("a bug in an event handler")
            await self.quiet.wait()
            yield {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}

        return events()


async def test_any_failure_restarts_the_watch_from_a_fresh_list() -> None:
    store = BreakingStore()
    c = NamespaceCache(store=store, namespace="ns")  # type: ignore[arg-type]
    task = asyncio.create_task(c.run())
    try:
        async def relisted() -> None:
            while store.lists < 2 or not c.synced:
                await asyncio.sleep(0.01)
        async with asyncio.timeout(5):
            await relisted()
        assert ids(c) == ["a"], "the fresh list replaced what the broken watch had added"
    finally:
        task.cancel()


async def test_records_answers_503_while_the_cache_resyncs() -> None:
    cached = CachedStore(KubernetesStore.__new__(KubernetesStore), ["ns"])
    try:
        await cached.list("ns", "default", "app")
    except StoreUnavailable as exc:
        assert "resyncing" in str(exc)
    else:
        raise AssertionError("a cache that is not synced answered")


class VersionStore:
    """The API server's side of a consistent read: the collection's version (``limit=1``) and
    the Table of every Recording's version; ``lists`` counts direct LISTs."""

    def __init__(self, at: int, versions: dict[str, int] | None) -> None:
        self.at, self.versions = at, versions
        self.lists = 0

    async def collection_version(self, namespace: str) -> str:
        return str(self.at)

    async def collection_versions(self, namespace: str) -> tuple[str, dict[str, str]] | None:
        if self.versions is None:
            return None  # a CRD without the column
        return str(self.at), {name: str(rv) for name, rv in self.versions.items()}

    async def list(self, namespace: str, vhost: str, app: str) -> list[dict[str, Any]]:
        self.lists += 1
        return [rec(name, rv) for name, rv in (self.versions or {}).items()]


def watched(store: VersionStore, *objects: dict[str, Any], at: int) -> NamespaceCache:
    """A synced cache whose watch has got to ``at`` with ``objects``."""
    c = NamespaceCache(store=store, namespace="ns")  # type: ignore[arg-type]
    c._replace(list(objects), str(at))
    c.synced = True
    return c


async def test_a_verification_carries_the_cache_past_other_resources_writes() -> None:
    # a Lease renewal moved the collection's version to 20; no Recording changed since 10
    store = VersionStore(20, {"a": 5, "b": 10})
    c = watched(store, rec("a", 5), rec("b", 10), at=10)
    assert await c.verify()
    assert c.version == 20, "later reads with nothing newer answer at once"
    c.upsert(rec("c", 15))  # made and deleted before 20: the server's state has no c
    assert ids(c) == ["a", "b"]


async def test_a_verification_waits_for_the_versions_the_watch_is_bringing() -> None:
    store = VersionStore(20, {"a": 12, "b": 10})
    c = watched(store, rec("a", 5, state="ready"), rec("b", 10), at=10)
    verifying = asyncio.create_task(c.verify())
    await asyncio.sleep(0.02)
    assert not verifying.done(), "a's version 12 is not in the cache yet"
    c.upsert(rec("a", 12, state="recording"))
    c._advance("12")
    async with asyncio.timeout(1):
        assert await verifying
    assert [r["status"]["state"] for r in c.recordings("default", "app")
            if r["metadata"]["name"] == "a"] == ["recording"]


async def test_recordings_the_server_no_longer_has_are_dropped_for_good() -> None:
    store = VersionStore(20, {"b": 10})
    c = watched(store, rec("a", 5), rec("b", 10), at=10)
    assert await c.verify()
    assert ids(c) == ["b"], "a was deleted by 20"
    c.upsert(rec("a", 7))  # a late event of before the deletion
    assert ids(c) == ["b"]


async def test_a_newer_copy_than_the_servers_list_is_kept() -> None:
    store = VersionStore(20, {"a": 5})
    c = watched(store, rec("a", 5), at=10)
    c.upsert(rec("b", 25))  # created through this replica after the Table was read
    assert await c.verify()
    assert ids(c) == ["a", "b"]


async def test_a_stalled_watch_fails_the_verification(monkeypatch: Any) -> None:
    monkeypatch.setattr("recording_operator.api.cache.VERIFY_WAIT_SECONDS", 0.05)
    store = VersionStore(20, {"a": 12})
    c = watched(store, rec("a", 5), at=10)
    assert not await c.verify()
    assert c.version == 10, "nothing is claimed"


async def test_records_verifies_instead_of_listing_and_lists_without_the_column() -> None:
    store = VersionStore(20, {"a": 5})
    cached = CachedStore(store, ["ns"])  # type: ignore[arg-type]
    cache = cached.caches["ns"] = watched(store, rec("a", 5), at=10)
    assert [r["spec"]["id"] for r in await cached.list("ns", "default", "app")] == ["a"]
    assert store.lists == 0 and cache.version == 20
    old = VersionStore(30, None)
    cached = CachedStore(old, ["ns"])  # type: ignore[arg-type]
    cached.caches["ns"] = watched(old, rec("a", 5), at=10)
    await cached.list("ns", "default", "app")
    assert old.lists == 1, "without the column, a direct LIST"
