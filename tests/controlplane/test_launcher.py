"""The local control plane behaves like a real cluster's: discovery, CRD schemas, RBAC,
garbage collection, and a clean stop."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from recording_operator.local import binaries
from recording_operator.local.controlplane import AdminError, ControlPlane, ControlPlaneError
from tests.waiting import wait_for

pytestmark = pytest.mark.controlplane
KUBECTL = str(Path(sys.executable).parent / "kubectl")


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, f"--kubeconfig={kubeconfig}", *args],
        input=stdin, capture_output=True, text=True, timeout=60,
    )



def test_serves_discovery_with_the_recording_api(controlplane: ControlPlane) -> None:
    groups = controlplane.request("GET", "/apis")
    names = {g["name"] for g in groups["groups"]}
    assert "recording-operator.dev" in names
    resources = controlplane.request("GET", "/apis/recording-operator.dev/v1alpha1")
    recording = next(r for r in resources["resources"] if r["name"] == "recordings")
    assert recording["shortNames"] == ["rec"]
    assert any(r["name"] == "recordings/status" for r in resources["resources"])


def test_kubectl_works_with_the_admin_kubeconfig(
    controlplane: ControlPlane, namespace: str
) -> None:
    result = kubectl(controlplane.admin_kubeconfig, "get", "rec", "-n", namespace)
    assert result.returncode == 0, result.stderr
    assert "No resources found" in result.stderr


def test_crd_schema_refuses_a_bad_recording(controlplane: ControlPlane, namespace: str) -> None:
    manifest = f"""
apiVersion: recording-operator.dev/v1alpha1
kind: Recording
metadata: {{name: bad, namespace: {namespace}}}
spec:
  id: bad
  stream: {{}}
"""
    result = kubectl(controlplane.admin_kubeconfig, "apply", "-f", "-", stdin=manifest)
    assert result.returncode != 0
    assert "spec.stream.name: Required value" in result.stderr


def test_rbac_is_enforced_for_a_service_account(controlplane: ControlPlane, namespace: str) -> None:
    config = controlplane.service_account_kubeconfig(
        namespace, "reader",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
    )
    allowed = kubectl(config, "get", "configmaps", "-n", namespace)
    assert allowed.returncode == 0, allowed.stderr
    refused = kubectl(config, "create", "configmap", "x", "-n", namespace)
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr
    assert f"system:serviceaccount:{namespace}:reader" in refused.stderr


def test_garbage_collector_removes_an_orphaned_pod(
    controlplane: ControlPlane, namespace: str
) -> None:
    owner = controlplane.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})
    account = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
    wait_for(lambda: _exists(controlplane, account), 30, "the default ServiceAccount")
    controlplane.request("POST", f"/api/v1/namespaces/{namespace}/pods", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "owned", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
            "uid": owner["metadata"]["uid"]}]},
        "spec": {"containers": [{"name": "c", "image": "none"}]}})
    controlplane.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps/owner")
    wait_for(lambda: not _exists(controlplane, f"/api/v1/namespaces/{namespace}/pods/owned"),
             60, "the garbage collector to delete the pod")


def _exists(plane: ControlPlane, path: str) -> bool:
    try:
        plane.request("GET", path)
    except AdminError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_stop_leaves_no_process_or_port(tmp_path: Path) -> None:
    plane = ControlPlane.start(tmp_path / "cp")
    pids = plane.pids
    port = int(plane.url.rsplit(":", 1)[1])
    assert len(pids) == 3
    plane.stop()
    for pid in pids:
        assert not _alive(pid), f"process {pid} outlived stop()"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if anything still listens


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it holds no port and no memory
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ControlPlaneError, match=rf"127.0.0.1:{port}: the port is in use"):
            ControlPlane.start(tmp_path / "cp", api_port=port)


def test_a_binary_that_exits_during_start_shows_its_log(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    real = binaries.find(build_if_missing=False)
    for name in ("kube-apiserver", "kube-controller-manager"):
        (fake / name).symlink_to(real / name)
    etcd = fake / "etcd"
    etcd.write_text("#!/bin/sh\necho 'etcd: cannot open data dir: disk on fire' >&2\nexit 3\n")
    etcd.chmod(etcd.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(ControlPlaneError) as caught:
        ControlPlane.start(tmp_path / "cp", bin_dir=fake)
    assert "etcd exited with code 3" in str(caught.value)
    assert "disk on fire" in str(caught.value)
