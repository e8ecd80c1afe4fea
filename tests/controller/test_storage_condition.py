"""A recorder waiting for space shows as the ``StorageAvailable`` condition: False with the
recorder's message while the storage is full, True once it has room again."""

from __future__ import annotations

from typing import Any

import pytest

from recording_operator.controller import status as st
from tests.waiting import wait_for

from .support import Kube, StartOperator, api_made, pod_of, state_is

FULL = ("cannot write /recordings/x.ts: the storage is full; the partial file is kept and "
        "recording resumes when 64 MiB are free")


def body(
    recorder: dict[str, Any], conditions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"metadata": {"name": "r"},
            "status": {"state": "stopped", "recorder": recorder, "conditions": conditions or []}}


def storage(conditions: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    return next((c for c in conditions or [] if c["type"] == "StorageAvailable"), None)


def test_no_condition_until_the_storage_first_fills_up() -> None:
    assert st.storage_conditions(body({"state": "recording"})) is None


def test_full_then_room_again() -> None:
    ready = {"type": "Ready", "status": "True", "reason": "PodRunning"}
    full = st.storage_conditions(body(
        {"state": "stopped", "message": FULL, "reason": "StorageFull"}, [ready]))
    assert full is not None and ready in full, "the other conditions are kept"
    condition = storage(full)
    assert condition is not None
    assert (condition["status"], condition["reason"], condition["message"]) == \
        ("False", "StorageFull", FULL)
    # written once: the same report again needs no write
    assert st.storage_conditions(body(
        {"state": "stopped", "message": FULL, "reason": "StorageFull"}, full)) is None
    room = storage(st.storage_conditions(body({"state": "recording"}, full)))
    assert room is not None and (room["status"], room["reason"]) == ("True", "StorageHasRoom")


@pytest.mark.controlplane
def test_the_operator_shows_a_full_storage_as_a_condition(
    kube: Kube, start_operator: StartOperator
) -> None:
    start_operator()
    name = api_made(kube)
    pod_of(kube, name)
    kube.report(name, {"recorder": {"state": "recording"}, "sequence": 0})
    state_is(kube, name, "recording")
    kube.report(name, {"recorder": {"state": "stopped", "message": FULL,
                                    "reason": "StorageFull"}})
    state_is(kube, name, "stopped")
    condition = wait_for(lambda: storage(kube.status(name).get("conditions")), 10,
                         "the StorageAvailable condition")
    assert (condition["status"], condition["reason"], condition["message"]) == \
        ("False", "StorageFull", FULL)
    assert kube.status(name)["message"] == FULL
    kube.report(name, {"recorder": {"state": "recording", "reason": None, "message": None}})
    state_is(kube, name, "recording")
    wait_for(lambda: (storage(kube.status(name).get("conditions")) or {}).get("status") == "True",
             10, "the condition to turn True")
