"""A recorder pod that does not start is said, and given up on after --pod-start-timeout.

The tests play the kubelet and the scheduler as the other operator tests do: the pod's status
says what a real kubelet would (ImagePullBackOff for an image that does not exist, the
scheduler's Unschedulable), or that it runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from recording_operator.controller.podstatus import start_problem
from recording_operator.model.naming import pod_name
from tests.waiting import wait_for

from .support import IMAGE, Kube, StartOperator, api_made, event_seen, pod_of, state_is

PULL_MESSAGE = f'Back-off pulling image "{IMAGE}": not found'
UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient memory."


def image_pull_back_off(kube: Kube, name: str) -> None:
    """What a kubelet reports for an image that does not exist."""
    kube.bind(name)
    kube.patch_pod_status(name, {"phase": "Pending", "containerStatuses": [{
        "name": "recorder", "image": IMAGE, "imageID": "", "ready": False, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": PULL_MESSAGE}}}]})


def unschedulable(kube: Kube, name: str) -> None:
    """What the scheduler reports when no node fits the pod."""
    kube.patch_pod_status(name, {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": UNSCHEDULABLE}]})


def ready(kube: Kube, name: str) -> dict[str, Any]:
    conditions = kube.status(name).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


@pytest.mark.parametrize(("hold_up", "words"), [
    (image_pull_back_off, f"ImagePullBackOff: {PULL_MESSAGE}"),
    (unschedulable, f"Unschedulable: {UNSCHEDULABLE}"),
])
@pytest.mark.controlplane
def test_a_pod_that_cannot_start_is_said_then_ends_in_error(
    kube: Kube, start_operator: StartOperator, hold_up: Any, words: str
) -> None:
    op = start_operator("--pod-start-timeout", "8")
    name = api_made(kube)
    pod_of(kube, name)
    state_is(kube, name, "ready")
    hold_up(kube, name)

    # first said, with the kubelet's (scheduler's) own words, while the task waits
    said = wait_for(lambda: (c := ready(kube, name)).get("reason") == "PodPending" and c, 15,
                    "Ready=False PodPending")
    assert said["status"] == "False"
    assert said["message"] == f"recorder pod {pod_name(name)} cannot start: {words}"
    assert kube.status(name)["state"] == "ready"
    assert event_seen(kube, name, "PodPending")["type"] == "Warning"

    # then given up on: state error with the reason, an Event, and the pod is gone
    status = state_is(kube, name, "error", timeout=30)
    assert status["message"].startswith(f"recorder pod {pod_name(name)} did not start within 8s")
    assert words in status["message"]
    assert ready(kube, name)["reason"] == "PodStuck"
    event_seen(kube, name, "PodStuck")
    wait_for(lambda: kube.pod(name) is None, 10, "the stuck pod to be deleted")
    # an error the operator decided: the deleted pod is neither counted nor replaced
    assert op.metric("recording_operator_pod_failures_total") == 0
    assert op.metric("recording_operator_pods_created_total") == 1


@pytest.mark.controlplane
def test_a_pod_that_starts_is_marked_running_and_never_given_up_on(
    kube: Kube, start_operator: StartOperator
) -> None:
    start_operator("--pod-start-timeout", "10")
    name = api_made(kube)
    pod_of(kube, name)
    kube.bind(name)
    kube.set_phase(name, "Running")
    running = wait_for(lambda: (c := ready(kube, name)).get("reason") == "PodRunning" and c, 15,
                       "Ready=True PodRunning")
    assert running["status"] == "True"
    assert running["message"] == f"recorder pod {pod_name(name)} started"
    event_seen(kube, name, "PodRunning")
    # a start that was seen is not watched any more: the Recording waits for its stream
    assert kube.status(name)["state"] == "ready"
    assert kube.pod(name) is not None


def test_what_holds_a_pod_up_in_words() -> None:
    creating = {"status": {"phase": "Pending", "containerStatuses": [
        {"state": {"waiting": {"reason": "ContainerCreating"}}}]}}
    assert start_problem(creating) is None  # on its way, not a fault
    config = {"status": {"phase": "Pending", "containerStatuses": [{"state": {"waiting": {
        "reason": "CreateContainerConfigError", "message": 'secret "token" not found'}}}]}}
    assert start_problem(config) == 'CreateContainerConfigError: secret "token" not found'
    assert start_problem({"status": {"phase": "Running"}}) is None
    assert start_problem({"status": {"phase": "Pending"}}) is None
