"""The recorder pod template: what the cluster is asked to run for a Recording."""

from __future__ import annotations

import json
from typing import Any

from recording_operator.controller.podspec import Owner, build_pod
from recording_operator.controller.resolve import resolve
from recording_operator.model.config import parse_config
from recording_operator.model.recording import RecordingSpec
from recording_operator.model.resolved import RecorderEnvironment, ResolvedRecording

CONFIG = parse_config({
    "namespace": "media",
    "recorder": {
        "image": "registry.example/recording-operator:1.2.3",
        "imagePullPolicy": "Always",
        "serviceAccountName": "rec-sa",
        "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "512Mi"}},
        "terminationGracePeriodSeconds": 45,
        "runAsUser": 4242,
        "env": [{"name": "TZ", "value": "UTC"}],
    },
    "vhosts": {"default": {"apps": {
        "app": {"source": "rtmp://127.0.0.1:1935/{app}/{stream}",
                "storage": {"volume": {"persistentVolumeClaim": {"claimName": "media"}},
                            "subPath": "recordings/app"}},
        "plain": {"source": "rtmp://127.0.0.1:1935/{app}/{stream}"},
    }}},
})
OWNER = Owner(namespace="media", name="rec-1-0123456789", uid="7f1c-uid")


def pod_for(app: str = "app") -> tuple[dict[str, Any], ResolvedRecording]:
    spec = RecordingSpec.model_validate({"id": "rec 1", "app": app, "stream": {"name": "s"}})
    resolved = resolve(spec, CONFIG, namespace=OWNER.namespace, name=OWNER.name,
                       transaction_id="T" * 16, created_time=None)
    app_cfg = CONFIG.app("default", app)
    assert app_cfg is not None
    return build_pod(resolved, OWNER, CONFIG.recorder, app_cfg.storage), resolved


def test_name_labels_and_owner_tie_the_pod_to_its_recording() -> None:
    pod, _ = pod_for()
    md = pod["metadata"]
    assert md["name"] == "rec-1-0123456789-recorder"
    assert md["namespace"] == "media"
    assert md["labels"] == {
        "recording-operator.dev/recording": OWNER.name,
        "recording-operator.dev/vhost": "default",
        "recording-operator.dev/app": "app",
        "app.kubernetes.io/component": "recorder",
        "app.kubernetes.io/managed-by": "recording-operator",
    }
    assert md["ownerReferences"] == [{
        "apiVersion": "recording-operator.dev/v1alpha1", "kind": "Recording",
        "name": OWNER.name, "uid": "7f1c-uid", "controller": True, "blockOwnerDeletion": True,
    }]


def test_the_same_recording_always_yields_the_same_pod() -> None:
    assert pod_for()[0] == pod_for()[0]


def test_runs_the_recorder_with_the_resolved_spec() -> None:
    pod, resolved = pod_for()
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert container["image"] == "registry.example/recording-operator:1.2.3"
    assert container["imagePullPolicy"] == "Always"
    assert container["command"] == ["recording-operator", "record"]
    env = {e["name"]: e.get("value") or e["valueFrom"] for e in container["env"]}
    assert env["TZ"] == "UTC"
    # the pod's own uid, so a report says which pod finished (a replacement is not finished)
    assert env["RECORDING_POD_UID"] == {
        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.uid"}}
    assert env["RECORDING_NAMESPACE"] == "media"
    assert env["RECORDING_NAME"] == OWNER.name
    assert ResolvedRecording.from_env(env["RECORDING_SPEC"]) == resolved
    assert json.loads(env["RECORDING_SPEC"])["transactionId"] == "T" * 16
    assert container["resources"] == {"requests": {"cpu": "250m"}, "limits": {"memory": "512Mi"}}
    assert spec["serviceAccountName"] == "rec-sa"
    assert spec["restartPolicy"] == "Never"
    assert spec["terminationGracePeriodSeconds"] == 45


def test_the_progress_interval_reaches_the_recorder_through_its_environment() -> None:
    resolved = pod_for()[1]
    app_cfg = CONFIG.app("default", "app")
    assert app_cfg is not None
    pod = build_pod(resolved, OWNER, CONFIG.recorder, app_cfg.storage, report_interval=12.5)
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"] if "value" in e}
    assert RecorderEnvironment.read(env).report_interval == 12.5
    # none given: none set, and the recorder keeps its own default
    assert "RECORDING_REPORT_INTERVAL" not in {
        e["name"] for e in pod_for()[0]["spec"]["containers"][0]["env"]}


def test_mounts_the_apps_storage_at_the_storage_root() -> None:
    pod, _ = pod_for()
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["recordings"] == {"name": "recordings",
                                     "persistentVolumeClaim": {"claimName": "media"}}
    assert volumes["tmp"] == {"name": "tmp", "emptyDir": {}}
    mounts = pod["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "recordings", "mountPath": "/recordings", "subPath": "recordings/app"} in mounts
    assert {"name": "tmp", "mountPath": "/tmp"} in mounts


def test_without_a_sub_path_the_volume_is_mounted_whole() -> None:
    pod, _ = pod_for("plain")
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["recordings"] == {"name": "recordings", "emptyDir": {}}
    mounts = pod["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "recordings", "mountPath": "/recordings"} in mounts


def test_runs_locked_down() -> None:
    pod, _ = pod_for()
    pod_ctx = pod["spec"]["securityContext"]
    assert pod_ctx["runAsNonRoot"] is True
    assert pod_ctx["runAsUser"] == 4242
    assert pod_ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = pod["spec"]["containers"][0]["securityContext"]
    assert ctx["runAsNonRoot"] is True
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["privileged"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert "add" not in ctx["capabilities"]
