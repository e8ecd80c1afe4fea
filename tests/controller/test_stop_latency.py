"""A stop ends soon after the recorder reports its last file, not one --stop-poll later.

kopf does not re-run a delayed finalizer when the recorder's report arrives, so the stop's
latency is the time to the next check; checks start at 0.25 s and back off to --stop-poll.
"""

from __future__ import annotations

import time

import pytest

from recording_operator.controller.stopping import poll_delay
from tests.waiting import wait_for

from .support import Kube, StartOperator, api_made, pod_of, state_is


def test_checks_start_quick_and_back_off_to_the_stop_poll() -> None:
    assert [poll_delay(n, 2.0) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert poll_delay(0, 0.1) == 0.1  # a shorter --stop-poll caps even the first check
    assert poll_delay(10_000, 30.0) == 30.0


@pytest.mark.controlplane
def test_a_stop_ends_well_before_one_stop_poll_interval(
    kube: Kube, start_operator: StartOperator
) -> None:
    start_operator("--stop-poll", "10", "--stop-timeout", "120")
    name = api_made(kube)
    pod_uid = pod_of(kube, name)["metadata"]["uid"]
    kube.bind(name)
    kube.set_phase(name, "Running")
    kube.report(name, {"recorder": {"state": "recording"}})
    state_is(kube, name, "recording")

    deleted = time.monotonic()
    kube.delete_recording(name)
    wait_for(lambda: (p := kube.pod(name)) and p["metadata"].get("deletionTimestamp"), 10,
             "the pod to get SIGTERM")
    kube.report(name, {"recorder": {"state": "stopping", "finished": True, "podUID": pod_uid}})
    wait_for(lambda: kube.recording(name) is None, 20, "the Recording to go")
    # a fixed 10 s interval would hold it at least 10 s; checks at 0.25, 0.75, 1.75, 3.75 s…
    assert time.monotonic() - deleted < 6
