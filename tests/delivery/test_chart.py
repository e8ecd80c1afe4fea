"""The chart's delivery component, installed by the real Helm library into the real local control
plane: rendered only when an app has a delivery block, its flags parsed by the real CLI, its
storage the recorders' claim, non-root with a read-only root, and a Role with exactly the
delivery rules plus get on the Secrets the config names."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from recording_operator.cli.main import build_parser
from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.config import parse_config
from tests.deploy.helm import CHART, Release, install, uninstall
from tests.deploy.kube import delete_namespace

pytestmark = pytest.mark.controlplane
RBAC = yaml.safe_load((CHART / "files" / "rbac.yaml").read_text())
APP = {"source": "rtmp://media:1935/{app}/{stream}",
       "upload": {"url": "s3://recordings/live", "endpoint": "http://minio.storage:9000",
                  "secretName": "recordings-s3"},
       "events": [{"url": "https://hooks.example.com/r", "secretName": "recordings-hook"}],
       "retention": {"maxAge": "7d", "maxBytes": "500Gi"}}


@pytest.fixture(scope="module")
def release(controlplane: ControlPlane) -> Iterator[Release]:
    namespace = f"chart-dl-{secrets.token_hex(3)}"
    controlplane.create_namespace(namespace)
    installed = install(controlplane.admin_kubeconfig, namespace, "rec", {
        "persistence": {"enabled": True},
        "config": {"vhosts": {"default": {"apps": {"app": APP}}}}})
    yield installed
    uninstall(controlplane.admin_kubeconfig, namespace, "rec")
    delete_namespace(controlplane, namespace)


def _deployment(release: Release) -> dict[str, Any]:
    [found] = [d for d in release.find("Deployment")
               if d["metadata"]["name"].endswith("-delivery")]
    return found


def test_the_delivery_deployment_runs_deliver_on_the_recordings_claim(release: Release) -> None:
    pod = _deployment(release)["spec"]["template"]["spec"]
    [box] = pod["containers"]
    args = build_parser().parse_args(box["args"])
    assert args.role == "deliver" and str(args.storage_root) == "/recordings"
    [config_map] = release.find("ConfigMap")
    config = parse_config(yaml.safe_load(config_map["data"]["config.yaml"]))
    app = config.app("default", "app")
    assert app is not None and app.upload is not None and app.upload.secret_name
    claim = app.storage.volume["persistentVolumeClaim"]["claimName"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["recordings"]["persistentVolumeClaim"]["claimName"] == claim
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert _deployment(release)["spec"]["replicas"] == 1
    [service] = [s for s in release.find("Service") if s["metadata"]["name"].endswith(
        "-delivery-metrics")]
    [port] = box["ports"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"] == "metrics"
    assert args.metrics_port == port["containerPort"] == service["spec"]["ports"][0]["port"]
    assert service["spec"]["selector"].items() <= pod_labels(release).items()


def pod_labels(release: Release) -> dict[str, str]:
    labels: dict[str, str] = _deployment(release)["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_delivery_role_is_the_rules_file_plus_the_named_secrets(release: Release) -> None:
    [role] = [r for r in release.find("Role") if r["metadata"]["name"].endswith("-delivery")]
    assert role["rules"] == [*RBAC["delivery"], {
        "apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
        "resourceNames": ["recordings-hook", "recordings-s3"]}]
    [binding] = [b for b in release.find("RoleBinding")
                 if b["metadata"]["name"].endswith("-delivery")]
    account = _deployment(release)["spec"]["template"]["spec"]["serviceAccountName"]
    assert binding["subjects"][0]["name"] == account
