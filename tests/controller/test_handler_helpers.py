"""Small pure pieces of the handlers: labels for kubectl-made Recordings, how a pod ended."""

from __future__ import annotations

from recording_operator.controller.lifecycle import missing_labels
from recording_operator.controller.podstatus import describe


def test_kubectl_made_recordings_get_their_vhost_and_app_labels() -> None:
    bare = {"metadata": {}, "spec": {"vhost": "default", "app": "app"}}
    assert missing_labels(bare) == {"recording-operator.dev/vhost": "default",
                                    "recording-operator.dev/app": "app"}
    labelled = {"metadata": {"labels": missing_labels(bare)}, "spec": bare["spec"]}
    assert missing_labels(labelled) == {}
    # a value Kubernetes would refuse as a label is left out rather than failing the patch
    odd = {"metadata": {}, "spec": {"vhost": "a b", "app": "app"}}
    assert missing_labels(odd) == {"recording-operator.dev/app": "app"}


def test_how_a_pod_ended_in_words() -> None:
    crashed = {"status": {"phase": "Failed", "containerStatuses": [{"state": {"terminated": {
        "exitCode": 137, "reason": "OOMKilled", "message": "line 1\nline 2\n"}}}]}}
    assert describe(crashed, False) == "exited with code 137 (OOMKilled): line 2"
    evicted = {"status": {"phase": "Failed", "reason": "Evicted", "message": "low on disk"}}
    assert describe(evicted, False) == "ended (Failed): Evicted: low on disk"
    assert describe({"status": {"phase": "Running"}}, True) == "disappeared (deleted or evicted)"
