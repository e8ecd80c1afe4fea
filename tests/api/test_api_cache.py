"""The watch-backed cache's ordering rules: a write seen through this replica is never undone
by an older watch event, and a deleted Recording does not come back from a late event."""

from __future__ import annotations

from typing import Any

from recording_operator.api.cache import NamespaceCache
from recording_operator.api.store import KubernetesStore


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
