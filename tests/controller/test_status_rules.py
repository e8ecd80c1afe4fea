"""The operator's status rules: whose state wins, how conditions move, when to give up."""

from __future__ import annotations

import re
from typing import Any

import pytest

from recording_operator.controller import status as st
from recording_operator.controller.failures import ANNOTATION, Backoff, FailureHistory
from recording_operator.model.recording import OPERATOR_FIELDS
from recording_operator.model.resource import State


def body(status: dict[str, Any] | None = None, deleting: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "r", "namespace": "n", "uid": "u", "generation": 1}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md, "status": status or {}}


def test_transaction_ids_are_16_letters_and_digits() -> None:
    ids = {st.new_transaction_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9]{16}", i) for i in ids)


def test_patches_name_only_operator_fields() -> None:
    patch = st.patch(body(), state=State.READY, message="m",
                     ready=(True, st.Reason.POD_CREATED, "x"), transactionId="t", restarts=1)
    assert set(patch["status"]) <= OPERATOR_FIELDS
    assert patch["status"]["observedGeneration"] == 1


def test_a_new_state_clears_a_stale_message() -> None:
    assert st.patch(body({"message": "old"}), state=State.RECORDING)["status"]["message"] is None


@pytest.mark.parametrize(("status", "deleting", "target"), [
    ({"state": "ready", "recorder": {"state": "recording"}}, False, "recording"),
    ({"state": "recording", "recorder": {"state": "recording"}}, False, None),
    ({"state": "recording", "recorder": {"state": "stopped"}}, False, "stopped"),
    ({"state": "ready"}, False, None),
    # stopping belongs to the finalizer
    ({"state": "stopping", "recorder": {"state": "recording"}}, True, None),
    # an error the recorder reports is mirrored ...
    ({"state": "recording", "recorder": {"state": "error"}}, False, "error"),
    # ... but an error the operator decided is not overwritten
    ({"state": "error", "recorder": {"state": "recording"},
      "conditions": [{"type": "Ready", "status": "False", "reason": "TooManyFailures"}]},
     False, None),
    # while an error that came from the recorder follows the recorder again
    ({"state": "error", "recorder": {"state": "recording"},
      "conditions": [{"type": "Ready", "status": "True", "reason": "PodCreated"}]},
     False, "recording"),
])
def test_mirroring_the_recorder(status: dict[str, Any], deleting: bool, target: str | None) -> None:
    assert st.mirror_target(body(status, deleting)) == target


def test_ready_keeps_its_transition_time_unless_it_flips() -> None:
    old = {"conditions": [{"type": "Ready", "status": "True", "reason": "PodCreated",
                           "lastTransitionTime": "2020-01-01T00:00:00.000+00:00"},
                          {"type": "Other", "status": "True"}]}
    from recording_operator.model.recording import parse_status

    same = st.with_ready(parse_status(body(old)), True, st.Reason.POD_CREATED, "again")
    assert [c["type"] for c in same] == ["Other", "Ready"]
    assert same[1]["lastTransitionTime"] == "2020-01-01T00:00:00.000+00:00"
    flipped = st.with_ready(parse_status(body(old)), False, st.Reason.POD_FAILED, "x")
    assert flipped[1]["lastTransitionTime"] != "2020-01-01T00:00:00.000+00:00"
    assert flipped[1]["status"] == "False" and flipped[1]["reason"] == "PodFailed"


def test_backoff_doubles_up_to_the_maximum() -> None:
    b = Backoff(initial=2, maximum=10, limit=5, window=60)
    assert [b.delay(n) for n in range(0, 6)] == [0, 2, 4, 8, 10, 10]
    assert not b.exhausted(4) and b.exhausted(5)


def test_failures_count_once_per_pod_and_fall_out_of_the_window() -> None:
    b = Backoff(initial=1, maximum=100, limit=3, window=60)
    h = FailureHistory().add("pod-a", 1000.0, b.window)
    assert h.has("pod-a") and h.recent(1000.0, b.window) == 1
    assert h.replace_at(b, 1000.0) == 1001.0
    h = h.add("pod-b", 1010.0, b.window)
    assert h.replace_at(b, 1010.0) == 1012.0
    h = h.add("pod-c", 1065.0, b.window)  # pod-a fell out of the window
    assert [f.pod for f in h.failures] == ["pod-b", "pod-c"]
    assert h.recent(1065.0, b.window) == 2


def test_the_history_survives_a_round_trip_and_tolerates_garbage() -> None:
    h = FailureHistory().add("p", 5.0, 60).add("q", 6.0, 60)
    again = FailureHistory.from_annotations({ANNOTATION: h.to_annotation()})
    assert again == h
    assert FailureHistory.from_annotations({ANNOTATION: "not json"}) == FailureHistory()
    assert FailureHistory.from_annotations(None) == FailureHistory()
