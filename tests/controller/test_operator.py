"""The real operator against the real local control plane, under its own ServiceAccount.

The tests play the recorder (status patches) and the kubelet (pod binding and phases).
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.resolved import ResolvedRecording
from tests.waiting import wait_for

from .support import (
    API_CREATED_TIME,
    IMAGE,
    KUBECTL,
    RECORDER_SA,
    SPEC,
    Kube,
    StartOperator,
    api_made,
    env_of,
    event_seen,
    pod_of,
    recorder_pods,
    state_is,
    write_config,
)

pytestmark = pytest.mark.controlplane


def _replacement(kube: Kube, name: str, failed_uid: str) -> str | None:
    """The uid of the pod that replaced the one with ``failed_uid``, once there is one."""
    pod = kube.pod(name)
    uid: str | None = pod["metadata"]["uid"] if pod else None
    return uid if uid != failed_uid else None


def test_a_new_recording_gets_exactly_one_pod_with_the_right_spec(
    kube: Kube, start_operator: StartOperator, namespace: str
) -> None:
    op = start_operator()
    name = api_made(kube, metadata="room 101")
    pod = pod_of(kube, name)
    status = state_is(kube, name, "ready")
    rec = kube.recording(name)
    assert rec is not None

    assert re.fullmatch(r"[A-Za-z0-9]{16}", status["transactionId"])
    # the createdTime the API's client saw in startRecord's answer
    assert status["createdTime"] == API_CREATED_TIME
    assert status["observedGeneration"] == rec["metadata"]["generation"]
    assert rec["metadata"]["finalizers"] == ["recording-operator.dev/finalizer"]
    ready = wait_for(lambda: next((c for c in kube.status(name).get("conditions", [])
                                   if c["type"] == "Ready" and c["status"] == "True"), None),
                     10, "Ready=True")
    assert ready["reason"] == "PodCreated"

    md = pod["metadata"]
    assert md["ownerReferences"] == [{
        "apiVersion": "recording-operator.dev/v1alpha1", "kind": "Recording", "name": name,
        "uid": rec["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    assert md["labels"]["recording-operator.dev/recording"] == name
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert container["image"] == IMAGE
    assert container["command"] == ["recording-operator", "record"]
    env = env_of(pod)
    assert (env["RECORDING_NAMESPACE"], env["RECORDING_NAME"]) == (namespace, name)
    resolved = ResolvedRecording.from_env(env["RECORDING_SPEC"])
    assert resolved.transaction_id == status["transactionId"]
    assert resolved.created_time == status["createdTime"]
    assert (resolved.id, resolved.stream, resolved.metadata) == ("lecture-1", "stream1", "room 101")
    assert resolved.source_url == "rtmp://127.0.0.1:1935/app/stream1"
    assert {"name": "recordings", "mountPath": "/recordings"} in container["volumeMounts"]
    assert spec["serviceAccountName"] == RECORDER_SA
    assert spec["restartPolicy"] == "Never"
    assert spec["terminationGracePeriodSeconds"] == 5
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False

    event_seen(kube, name, "Ready")
    event_seen(kube, name, "PodCreated")
    assert len(recorder_pods(kube, name)) == 1
    assert op.metric("recording_operator_pods_created_total") == 1
    wait_for(lambda: op.metric('recording_operator_recordings{state="ready"}') == 1, 10,
             "the ready Recording in the metrics")
    assert op.metric('recording_operator_handler_duration_seconds_count{handler="reconcile"}') >= 1
    assert op.metric('recording_operator_reconcile_errors_total{handler="reconcile"}') == 0


def test_the_recorders_state_is_mirrored_into_the_state(
    kube: Kube, start_operator: StartOperator
) -> None:
    start_operator()
    name = api_made(kube)
    pod_of(kube, name)
    state_is(kube, name, "ready")
    kube.report(name, {"recorder": {"state": "recording"}, "sequence": 0,
                       "startTime": "2026-01-01T00:00:00.000+00:00"})
    state_is(kube, name, "recording")
    event_seen(kube, name, "Recording")
    kube.report(name, {"recorder": {"state": "stopped", "message": "the stream ended"}})
    status = state_is(kube, name, "stopped")
    assert status["message"] == "the stream ended"
    assert status["startTime"] == "2026-01-01T00:00:00.000+00:00"  # the recorder's own field
    event_seen(kube, name, "Stopped")


def test_a_restarted_operator_makes_no_second_pod_and_keeps_the_state(
    kube: Kube, start_operator: StartOperator
) -> None:
    op = start_operator()
    name = api_made(kube)
    first = pod_of(kube, name)
    kube.report(name, {"recorder": {"state": "recording"}, "sequence": 2})
    before = state_is(kube, name, "recording")
    assert op.stop() == 0

    late = api_made(kube, "made-while-down")
    op.start()
    wait_for(lambda: op.handled("Resuming", name), 20, "the operator to resume the Recording")
    pod_of(kube, late)  # a Recording made while the operator was down gets its pod
    wait_for(lambda: op.handled("Creation", late), 20, "the late Recording to be handled")
    after = kube.status(name)
    assert [p["metadata"]["uid"] for p in recorder_pods(kube, name)] == [first["metadata"]["uid"]]
    for key in ("transactionId", "createdTime", "state", "sequence"):
        assert after[key] == before[key], key


def test_a_failed_pod_is_replaced_and_the_recording_continues(
    kube: Kube, start_operator: StartOperator
) -> None:
    start_operator()
    name = api_made(kube)
    first = pod_of(kube, name)
    kube.report(name, {"recorder": {"state": "recording"}, "sequence": 3,
                       "totalRecordBytes": 1000, "totalRecordTime": 9000})
    state_is(kube, name, "recording")
    transaction = kube.status(name)["transactionId"]

    kube.set_phase(name, "Failed", exit_code=1)
    second = wait_for(lambda: (p := kube.pod(name)) and p["metadata"]["uid"]
                      != first["metadata"]["uid"] and p, 20, "a replacement pod")
    failed = event_seen(kube, name, "PodFailed")
    assert "exited with code 1 (Error): source refused" in failed["message"]
    status = kube.status(name)
    assert status["restarts"] == 1
    assert (status["sequence"], status["totalRecordBytes"], status["transactionId"]) == (
        3, 1000, transaction)
    # the replacement resumes the same task: same transactionId, the status tells the sequence
    assert ResolvedRecording.from_env(env_of(second)["RECORDING_SPEC"]).transaction_id == \
        transaction

    # a pod that disappears (evicted, deleted by someone) is replaced too
    kube.plane.request("DELETE", f"/api/v1/namespaces/{kube.ns}/pods/{name}-recorder")
    wait_for(lambda: (p := kube.pod(name)) and p["metadata"]["uid"] != second["metadata"]["uid"],
             20, "a second replacement")
    wait_for(lambda: kube.status(name).get("restarts") == 2, 10, "restarts=2")
    assert len(recorder_pods(kube, name)) == 1


def test_repeated_failure_ends_in_error_without_a_restart_loop(
    kube: Kube, start_operator: StartOperator
) -> None:
    op = start_operator("--failure-limit", "3", "--failure-window", "300")
    name = api_made(kube)
    uid = pod_of(kube, name)["metadata"]["uid"]
    for attempt in range(3):
        kube.set_phase(name, "Failed", exit_code=2)
        if attempt < 2:
            uid = wait_for(partial(_replacement, kube, name, uid), 20,
                           f"replacement {attempt + 1}")
    status = state_is(kube, name, "error")
    assert "3 failures within 300s" in status["message"]
    assert "exited with code 2" in status["message"]
    event = event_seen(kube, name, "TooManyFailures")
    assert event["type"] == "Warning"
    # the last failed pod stays for `kubectl logs`; no new one is made
    pods = recorder_pods(kube, name)
    assert [p["metadata"]["uid"] for p in pods] == [uid]
    assert pods[0]["status"]["phase"] == "Failed"
    assert op.metric("recording_operator_pods_created_total") == 3
    # the recorder's report does not hide the operator's verdict
    kube.report(name, {"recorder": {"state": "recording"}})
    wait_for(lambda: kube.status(name).get("recorder", {}).get("state") == "recording", 5,
             "the report")
    assert kube.status(name)["state"] == "error"


@pytest.mark.parametrize(("spec", "message"), [
    ({"app": "nope"}, "Could not find the application: [default/nope]"),
    ({"vhost": "elsewhere"}, "Could not find the virtual host: [elsewhere]"),
    ({"stream": {"name": "s", "variantNames": ["4k"]}},
     "unknown variant name(s) 4k; this app offers: video"),
])
def test_an_unresolvable_recording_is_an_error_without_a_pod(
    kube: Kube, start_operator: StartOperator, spec: dict[str, Any], message: str
) -> None:
    start_operator()
    kube.create_recording("bad", {**SPEC, **spec})
    status = state_is(kube, "bad", "error")
    assert status["message"] == message
    assert event_seen(kube, "bad", "Unresolvable")["message"] == message
    assert kube.pod("bad") is None
    # and it can still be deleted
    kube.delete_recording("bad")
    wait_for(lambda: kube.recording("bad") is None, 20, "the Recording to go")


def test_delete_releases_the_recording_only_after_the_recorder_reported(
    kube: Kube, start_operator: StartOperator
) -> None:
    start_operator("--stop-timeout", "120")
    name = api_made(kube)
    pod_of(kube, name)
    kube.bind(name)
    kube.set_phase(name, "Running")
    kube.report(name, {"recorder": {"state": "recording"}, "sequence": 4})
    state_is(kube, name, "recording")

    kube.delete_recording(name)
    state_is(kube, name, "stopping")
    event_seen(kube, name, "Stopping")
    terminating = wait_for(lambda: (p := kube.pod(name)) and p["metadata"].get(
        "deletionTimestamp") and p, 10, "the pod to be terminating")
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 5  # the grace period
    # the operator keeps checking; the Recording stays while the recorder has not reported
    wait_for(lambda: _stop_retries(kube, name) >= 3, 20, "three stop checks")
    assert kube.recording(name) is not None
    assert kube.status(name)["state"] == "stopping"

    kube.report(name, {"recorder": {"state": "stopping", "finished": True,
                                    "podUID": terminating["metadata"]["uid"]},
                       "files": [{"sequence": 4, "filePath": "x.ts", "recordBytes": 1,
                                  "recordTime": 1, "startTime": "s", "finishTime": "f",
                                  "lastSequence": True}]})
    wait_for(lambda: kube.recording(name) is None, 20, "the Recording to go")
    assert "ForcedStop" not in kube.event_reasons(name)


def test_a_finished_report_of_an_earlier_pod_does_not_release_a_stop(
    kube: Kube, start_operator: StartOperator
) -> None:
    """A recorder whose pod was drained also reports finished; its replacement must not look
    finished, or stopRecord would let the Recording go before the last file is written."""
    start_operator("--stop-timeout", "120")
    name = api_made(kube)
    pod = pod_of(kube, name)
    current = pod["metadata"]["uid"]
    uid_ref = {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.uid"}}
    env = pod["spec"]["containers"][0]["env"]
    assert {"name": "RECORDING_POD_UID", "valueFrom": uid_ref} in env
    kube.bind(name)
    kube.set_phase(name, "Running")
    kube.report(name, {"recorder": {"state": "stopped", "finished": True, "podUID": "drained"}})
    state_is(kube, name, "stopped")

    kube.delete_recording(name)
    state_is(kube, name, "stopping")
    wait_for(lambda: _stop_retries(kube, name) >= 3, 20, "three stop checks")
    assert kube.recording(name) is not None, "released on the earlier pod's report"

    kube.report(name, {"recorder": {"state": "stopped", "finished": True, "podUID": current}})
    wait_for(lambda: kube.recording(name) is None, 20, "the Recording to go")


def test_a_finished_report_that_names_no_pod_does_not_release_a_stop(
    kube: Kube, start_operator: StartOperator
) -> None:
    """"finished" counts only with the stopped pod's uid, always: a report naming no pod may
    come from anywhere (an earlier recorder, a hand-made patch), not from this pod."""
    start_operator("--stop-timeout", "120")
    name = api_made(kube)
    current = pod_of(kube, name)["metadata"]["uid"]
    kube.bind(name)
    kube.set_phase(name, "Running")
    kube.report(name, {"recorder": {"state": "recording", "podUID": current}})
    state_is(kube, name, "recording")
    kube.delete_recording(name)
    state_is(kube, name, "stopping")
    kube.report(name, {"recorder": {"state": "stopped", "finished": True, "podUID": None}})
    wait_for(lambda: _stop_retries(kube, name) >= 3, 20, "three stop checks")
    assert kube.recording(name) is not None, "released on a report that names no pod"

    kube.report(name, {"recorder": {"state": "stopped", "finished": True, "podUID": current}})
    wait_for(lambda: kube.recording(name) is None, 20, "the Recording to go")


def _stop_retries(kube: Kube, name: str) -> int:
    rec = kube.recording(name)
    progress = ((rec or {}).get("metadata", {}).get("annotations") or {}).get(
        "recording-operator.dev/stop")
    return int(json.loads(progress).get("retries", 0)) if progress else 0


def test_a_stuck_pod_is_force_deleted_after_the_stop_timeout(
    kube: Kube, start_operator: StartOperator
) -> None:
    op = start_operator("--stop-timeout", "2")
    name = api_made(kube)
    pod_of(kube, name)
    kube.bind(name)  # on a node whose kubelet never answers
    kube.set_phase(name, "Running")
    kube.delete_recording(name)
    wait_for(lambda: kube.recording(name) is None, 30, "the Recording to go")
    assert kube.pod(name) is None
    forced = event_seen(kube, name, "ForcedStop")
    assert forced["type"] == "Warning"
    assert "did not stop within 2s" in forced["message"]
    assert op.metric("recording_operator_forced_stops_total") == 1


def test_a_pod_that_never_ran_stops_at_once(kube: Kube, start_operator: StartOperator) -> None:
    start_operator("--stop-timeout", "120")
    name = api_made(kube)
    pod_of(kube, name)  # never bound: nothing to finish
    kube.delete_recording(name)
    wait_for(lambda: kube.recording(name) is None, 10, "the Recording to go")
    assert kube.pod(name) is None


def test_a_recording_applied_with_kubectl_is_recorded(
    kube: Kube, start_operator: StartOperator, controlplane: ControlPlane, namespace: str,
    tmp_path: Path,
) -> None:
    op = start_operator()
    manifest = tmp_path / "rec.yaml"
    manifest.write_text(f"""\
apiVersion: recording-operator.dev/v1alpha1
kind: Recording
metadata:
  name: my-lecture
  namespace: {namespace}
spec:
  id: my-lecture
  stream:
    name: lecture
    variantNames: [video]
  interval: 60000
  source:
    url: rtmp://studio.local/live/lecture
""")
    kubectl = [KUBECTL, f"--kubeconfig={controlplane.admin_kubeconfig}"]
    done = subprocess.run([*kubectl, "apply", "-f", str(manifest)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    pod = pod_of(kube, "my-lecture")
    resolved = ResolvedRecording.from_env(env_of(pod)["RECORDING_SPEC"])
    assert resolved.source_url == "rtmp://studio.local/live/lecture"
    assert resolved.interval_ms == 60000
    assert [t.media for t in resolved.tracks] == ["video"]
    status = state_is(kube, "my-lecture", "ready")
    created = (kube.recording("my-lecture") or {})["metadata"]["creationTimestamp"]
    assert status["createdTime"] == created.replace("Z", ".000+00:00")
    labels = wait_for(lambda: (kube.recording("my-lecture") or {})["metadata"].get("labels"), 10,
                      "labels")
    assert labels["recording-operator.dev/vhost"] == "default"
    assert labels["recording-operator.dev/app"] == "app"
    assert not op.logged("failed temporarily"), op.all_logs()  # labelling then status: no conflict
    table = subprocess.run([*kubectl, "get", "rec", "-n", namespace], capture_output=True,
                           text=True, timeout=60)
    assert re.search(r"my-lecture\s+my-lecture\s+lecture\s+ready", table.stdout), table.stdout
    done = subprocess.run([*kubectl, "delete", "-f", str(manifest), "--timeout=30s"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert kube.recording("my-lecture") is None


def test_the_garbage_collector_removes_the_pod_of_a_recording_gone_while_the_operator_is_down(
    kube: Kube, start_operator: StartOperator
) -> None:
    op = start_operator()
    name = api_made(kube)
    pod_of(kube, name)
    op.stop()
    kube.delete_recording(name)
    kube.drop_finalizers(name)  # someone forces it out while the operator is down
    wait_for(lambda: kube.recording(name) is None, 10, "the Recording to go")
    wait_for(lambda: kube.pod(name) is None, 60, "the garbage collector to remove the pod")
    op.start()
    wait_for(lambda: op.logged("Initial authentication has finished"), 10, "the restart")
    assert kube.pod(name) is None


def test_all_namespaces_mode_with_cluster_wide_rights(
    kube: Kube, start_operator: StartOperator, controlplane: ControlPlane, namespace: str,
    rbac_rules: dict[str, list[dict[str, Any]]], tmp_path: Path,
) -> None:
    kubeconfig = controlplane.service_account_kubeconfig(
        namespace, "operator-cw", rbac_rules["operator"], cluster_wide=True)
    start_operator(kubeconfig=kubeconfig, scope=("--all-namespaces",))
    name = api_made(kube)
    pod_of(kube, name)
    state_is(kube, name, "ready")


def test_a_bad_config_stops_the_operator_with_a_message(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("vhosts:\n  default:\n    apps:\n      app:\n        source: not-a-url\n")
    done = subprocess.run(
        [str(Path(KUBECTL).parent / "recording-operator"), "run", "--config", str(config)],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "vhosts.default.apps.app.source" in done.stderr


def test_config_namespace_default(kube: Kube, start_operator: StartOperator,
                                  namespace: str, tmp_path: Path) -> None:
    """Without --namespace the operator watches the namespaces its config names."""
    start_operator(config=write_config(tmp_path / "c.yaml", namespace), scope=())
    name = api_made(kube)
    pod_of(kube, name)


def test_a_restart_with_a_changed_config_leaves_running_recorders_alone(
    kube: Kube, start_operator: StartOperator, namespace: str, tmp_path: Path
) -> None:
    op = start_operator()
    name = api_made(kube, stream={"name": "stream1", "variantNames": ["video"]})
    uid = pod_of(kube, name)["metadata"]["uid"]
    kube.report(name, {"recorder": {"state": "recording"}})
    state_is(kube, name, "recording")
    op.stop()
    # the app no longer offers the variant: the running task keeps its pod and its state
    changed = write_config(tmp_path / "changed.yaml", namespace,
                           variants={"hd": {"media": "video"}})
    op.args[op.args.index("--config") + 1] = str(changed)
    op.start()
    wait_for(lambda: op.handled("Resuming", name), 20, "the resume")
    assert kube.status(name)["state"] == "recording"
    assert kube.pod(name)["metadata"]["uid"] == uid  # type: ignore[index]


def test_a_reused_id_waits_for_the_previous_recorder_to_go(
    kube: Kube, start_operator: StartOperator
) -> None:
    """stopRecord, then startRecord with the same id while the old pod is still terminating."""
    start_operator("--stop-timeout", "120")
    name = api_made(kube)
    old = pod_of(kube, name)
    kube.bind(name)
    kube.set_phase(name, "Running")
    kube.delete_recording(name)
    state_is(kube, name, "stopping")
    kube.report(name, {"recorder": {"state": "stopping", "finished": True,
                                    "podUID": old["metadata"]["uid"]}})
    wait_for(lambda: kube.recording(name) is None, 20, "the old Recording to go")
    assert kube.pod(name)["metadata"]["deletionTimestamp"]  # type: ignore[index]

    api_made(kube)  # the same id again: the same name
    new_uid = wait_for(lambda: (kube.recording(name) or {}).get("metadata", {}).get("uid"), 10,
                       "the new Recording")
    state_is(kube, name, "ready")
    assert kube.pod(name)["metadata"]["uid"] == old["metadata"]["uid"]  # type: ignore[index]
    # the kubelet finishes the old pod; the new Recording gets its own
    kube.force_delete_pods()
    new = wait_for(lambda: (p := kube.pod(name)) and p["metadata"]["uid"] != old["metadata"]["uid"]
                   and p, 20, "the new Recording's pod")
    assert new["metadata"]["ownerReferences"][0]["uid"] == new_uid


def test_recorders_report_progress_less_often_as_recordings_grow_in_number(
    kube: Kube, start_operator: StartOperator
) -> None:
    """The status-write budget shared out: with 1 write/s for everyone, the first recorders
    report every 5 s (the floor) and each new one less often, as many seconds as there are
    Recordings (issue "Hardening": status writes at 5,000 tasks)."""
    start_operator("--status-writes-per-second", "1")
    intervals = []
    for n in range(12):
        name = api_made(kube, record_id=f"budget-{n}")
        intervals.append(float(env_of(pod_of(kube, name))["RECORDING_REPORT_INTERVAL"]))
    assert intervals[:5] == [5.0] * 5, intervals
    assert intervals == sorted(intervals), intervals
    assert intervals[-1] >= 11, intervals
