"""The chart installed by the real Helm library into the real local control plane: every object
is accepted, and what it renders matches what the code serves and needs (ports, paths, flags
parsed by the real CLI, RBAC exactly files/rbac.yaml, a config the real loader accepts)."""

from __future__ import annotations

import argparse
import base64
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from recording_operator.api.app import HEALTH_PATH
from recording_operator.cli.main import build_parser
from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.config import Config, parse_config
from recording_operator.model.resource import STORAGE_ROOT

from .helm import CHART, FULL_VALUES, ROOT, Release, install, load_yaml, uninstall, upgrade
from .kube import delete_namespace, read_back

pytestmark = pytest.mark.controlplane
Obj = dict[str, Any]
RBAC = yaml.safe_load((CHART / "files" / "rbac.yaml").read_text())
IMAGE_UID = 10001


@pytest.fixture(scope="module")
def release(controlplane: ControlPlane) -> Iterator[Release]:
    """Defaults with persistence on, in a namespace of its own."""
    namespace = f"chart-{secrets.token_hex(3)}"
    controlplane.create_namespace(namespace)
    installed = install(controlplane.admin_kubeconfig, namespace, "rec",
                        {"persistence": {"enabled": True}})
    yield installed
    uninstall(controlplane.admin_kubeconfig, namespace, "rec")
    delete_namespace(controlplane, namespace)


def container(deployment: Obj) -> Obj:
    containers: list[Obj] = deployment["spec"]["template"]["spec"]["containers"]
    [only] = containers
    return only


def cli_args(deployment: Obj) -> argparse.Namespace:
    """The container's command line, parsed by the real ``recording-operator`` parser."""
    box = container(deployment)
    assert box["command"] == ["recording-operator"]
    return build_parser().parse_args(box["args"])


def port_number(box: Obj, port: int | str) -> int:
    if isinstance(port, int):
        return port
    [found] = [p["containerPort"] for p in box["ports"] if p["name"] == port]
    return int(found)


def mount_of(deployment: Obj, path: str) -> tuple[Obj, str]:
    """The volume a container path lies in, and the path inside that volume."""
    spec = deployment["spec"]["template"]["spec"]
    for mount in container(deployment)["volumeMounts"]:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
            return volume, path[len(prefix):]
    raise AssertionError(f"{path} is on no volume of {deployment['metadata']['name']}")


def config_of(release: Release) -> tuple[str, Config]:
    configmap = release.one("ConfigMap", f"{release.fullname}-config")
    text = configmap["data"]["config.yaml"]
    return text, parse_config(yaml.safe_load(text), "the chart's ConfigMap")


def test_every_object_is_accepted_by_the_api_server(release: Release,
                                                    controlplane: ControlPlane) -> None:
    assert release.status == "deployed"
    kinds = {o["kind"] for o in release.objects}
    assert {"Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "ConfigMap",
            "Secret", "PersistentVolumeClaim", "PodDisruptionBudget"} <= kinds
    for obj in release.objects:
        stored = read_back(controlplane, obj)
        assert stored["metadata"]["labels"]["app.kubernetes.io/instance"] == "rec"


def test_deployments_are_secure_by_default(release: Release, controlplane: ControlPlane) -> None:
    for component in ("operator", "api"):
        stored = read_back(controlplane, release.deployment(component))
        pod = stored["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == IMAGE_UID
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        box = container(stored)
        context = box["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["privileged"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        tmp, inside = mount_of(stored, "/tmp/x")
        assert "emptyDir" in tmp and inside == "x", "a read-only root needs a writable /tmp"
        assert box["resources"]["requests"] and box["resources"]["limits"]["memory"]
        assert pod["serviceAccountName"] == f"rec-recording-operator-{component}"


def test_operator_runs_once_with_probe_and_metrics_on_its_real_ports(release: Release) -> None:
    deployment = release.deployment("operator")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = cli_args(deployment)
    assert args.role == "run"
    box = container(deployment)
    probe = box["livenessProbe"]["httpGet"]
    # kopf serves its liveness endpoint at the path of the URL run_operator gives it.
    assert probe["path"] == "/healthz"
    assert port_number(box, probe["port"]) == args.liveness_port == 8080
    assert port_number(box, "metrics") == args.metrics_port == 9090
    [metrics] = [s for s in release.find("Service") if s["metadata"]["name"].endswith("-metrics")]
    assert metrics["spec"]["ports"][0]["targetPort"] == "metrics"
    assert metrics["spec"]["selector"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items())
    config_file, inside = mount_of(deployment, args.config)
    assert config_file["configMap"]["name"] == release.one("ConfigMap")["metadata"]["name"]
    assert inside == "config.yaml"
    _, config = config_of(release)
    assert args.namespace == config.namespaces() == [release.namespace]
    assert not args.all_namespaces


def test_api_serves_probes_service_and_token_from_real_places(release: Release) -> None:
    deployment = release.deployment("api")
    args = cli_args(deployment)
    assert args.role == "api"
    assert args.host == "0.0.0.0"
    box = container(deployment)
    assert port_number(box, "http") == args.port
    for kind in ("readinessProbe", "livenessProbe"):
        probe = box[kind]["httpGet"]
        assert probe["path"] == HEALTH_PATH
        assert port_number(box, probe["port"]) == args.port
    service = release.one("Service", f"{release.fullname}-api")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items())
    token_volume, inside = mount_of(deployment, args.access_token_file)
    secret = release.one("Secret")
    assert token_volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert token_volume["secret"]["items"] == [{"key": "token", "path": inside}]
    assert len(base64.b64decode(secret["data"]["token"])) == 32
    assert deployment["spec"]["replicas"] == 2
    pdb = release.one("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items())


def test_rbac_is_exactly_the_rules_file(release: Release) -> None:
    namespace = release.namespace
    roles = {r["metadata"]["name"]: r for r in release.find("Role")}
    assert sorted(roles) == [f"rec-recording-operator-{c}" for c in ("api", "operator", "recorder")]
    _, config = config_of(release)
    accounts = {
        "operator": release.deployment("operator")["spec"]["template"]["spec"][
            "serviceAccountName"],
        "api": release.deployment("api")["spec"]["template"]["spec"]["serviceAccountName"],
        "recorder": config.recorder.service_account_name,
    }
    for component, rules in RBAC.items():
        if component in ("kubelet", "delivery"):  # delivery: tests/delivery/test_chart.py
            continue
        name = f"rec-recording-operator-{component}"
        assert roles[name]["rules"] == rules, f"{component}'s Role differs from files/rbac.yaml"
        binding = release.one("RoleBinding", name)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": name}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": accounts[component],
                                        "namespace": namespace}]
        release.one("ServiceAccount", accounts[component], namespace)
    # Nothing cluster-wide but the aggregated view/edit roles for users, which grant the
    # chart's components nothing.
    assert not release.find("ClusterRoleBinding")
    for role in release.find("ClusterRole"):
        assert role["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"]


def test_config_is_what_the_loader_accepts_and_points_at_the_claim(release: Release) -> None:
    _, config = config_of(release)
    app = config.app("default", "app")
    assert app is not None
    claim = release.one("PersistentVolumeClaim")
    assert app.storage.volume == {
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert config.namespace == release.namespace
    assert config.recorder.image == container(release.deployment("api"))["image"]
    assert config.recorder.run_as_user == IMAGE_UID
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"^USER {IMAGE_UID}(:{IMAGE_UID})?$", dockerfile, re.M), (
        "the image's user must be the uid recorder pods and the chart run as")
    assert STORAGE_ROOT == "/recordings"


def test_notes_tell_how_to_reach_the_api_and_get_the_token(release: Release) -> None:
    notes = release.notes
    secret = release.one("Secret")["metadata"]["name"]
    assert f"kubectl get secret -n {release.namespace} {secret} -o jsonpath='{{.data.token}}'" \
        in notes
    assert f"kubectl port-forward -n {release.namespace} svc/{release.fullname}-api 8081:8081" \
        in notes
    assert "/vhosts/default/apps/app:startRecord" in notes
    assert f"kubectl get rec -n {release.namespace}" in notes


def test_upgrade_keeps_the_token_and_a_config_change_rolls_the_pods(
    controlplane: ControlPlane, new_namespace: Any
) -> None:
    namespace = new_namespace("upg")
    kubeconfig = controlplane.admin_kubeconfig
    first = install(kubeconfig, namespace, "up", {})
    same = upgrade(kubeconfig, namespace, "up", {})
    changed = upgrade(kubeconfig, namespace, "up", {"config": {"timezone": "Europe/Paris"}})

    def checksum(release: Release, component: str) -> str:
        annotations = release.deployment(component)["spec"]["template"]["metadata"][
            "annotations"]
        return str(annotations["checksum/config"])

    def token(release: Release) -> str:
        return str(release.one("Secret")["data"]["token"])

    assert token(first) == token(same) == token(changed), "an upgrade must keep the token"
    stored = read_back(controlplane, first.one("Secret"))
    assert stored["data"]["token"] == token(first)
    for component in ("operator", "api"):
        assert checksum(first, component) == checksum(same, component)
        assert checksum(first, component) != checksum(changed, component)
    uninstall(kubeconfig, namespace, "up")


def test_existing_secret_and_claim_are_used_instead_of_made(
    controlplane: ControlPlane, new_namespace: Any
) -> None:
    namespace = new_namespace("ext")
    release = install(controlplane.admin_kubeconfig, namespace, "ext", {
        "api": {"existingSecret": "my-token", "existingSecretKey": "api-token"},
        "persistence": {"enabled": True, "existingClaim": "archive", "subPath": "rec"},
    })
    assert not release.find("Secret") and not release.find("PersistentVolumeClaim")
    token_volume = next(v for v in release.deployment("api")["spec"]["template"]["spec"][
        "volumes"] if "secret" in v)
    assert token_volume["secret"]["secretName"] == "my-token"
    assert token_volume["secret"]["items"][0]["key"] == "api-token"
    _, config = config_of(release)
    app = config.app("default", "app")
    assert app is not None
    assert app.storage.volume == {"persistentVolumeClaim": {"claimName": "archive"}}
    assert app.storage.sub_path == "rec"
    assert "WARNING: persistence is off" not in release.notes
    uninstall(controlplane.admin_kubeconfig, namespace, "ext")


def test_cluster_wide_gives_only_the_operator_a_cluster_role(
    controlplane: ControlPlane, new_namespace: Any
) -> None:
    namespace = new_namespace("cw")
    release = install(controlplane.admin_kubeconfig, namespace, "cw",
                      {"rbac": {"clusterWide": True, "aggregateToDefaultRoles": False}})
    [cluster_role] = release.find("ClusterRole")
    assert cluster_role["rules"] == RBAC["operator"]
    [binding] = release.find("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    assert binding["subjects"][0]["namespace"] == namespace
    assert cli_args(release.deployment("operator")).all_namespaces
    assert sorted(r["metadata"]["name"] for r in release.find("Role")) == [
        "cw-recording-operator-api", "cw-recording-operator-recorder"]
    for obj in release.objects:
        read_back(controlplane, obj)
    uninstall(controlplane.admin_kubeconfig, namespace, "cw")


def test_full_example_values_install_with_every_object_accepted(
    controlplane: ControlPlane, new_namespace: Any, service_monitor_crd: None
) -> None:
    values = load_yaml(FULL_VALUES)
    home = new_namespace(values["config"]["namespace"], exact=True)
    studio = new_namespace(values["config"]["vhosts"]["studio"]["apps"]["live"]["namespace"],
                           exact=True)
    release = install(controlplane.admin_kubeconfig, home, "full", values)
    try:
        check_full_example(controlplane, release, home, studio)
    finally:
        uninstall(controlplane.admin_kubeconfig, home, "full")


def check_full_example(controlplane: ControlPlane, release: Release, home: str,
                       studio: str) -> None:
    for obj in release.objects:
        read_back(controlplane, obj)
    _, config = config_of(release)
    assert config.namespaces() == sorted([home, studio])
    for namespace in (home, studio):
        release.one("ServiceAccount", "recording-operator-recorder", namespace)
        # operator, api, recorder, and delivery (it feeds the example's catalogue)
        assert len(release.find("Role", namespace=namespace)) == 4
    assert cli_args(release.deployment("operator")).namespace == sorted([home, studio])
    default_app = config.app("default", "app")
    assert default_app is not None and default_app.storage.sub_path == "recordings"
    monitor = release.one("ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert config.recorder.image == "registry.example.com/media/recording-operator:0.1.0"
    assert config.recorder.termination_grace_period_seconds == 45
    assert container(release.deployment("operator"))["args"][-1] == "--retry-delay=5"
    cli_args(release.deployment("operator"))


def test_the_chart_path_exists() -> None:
    assert Path(CHART / "Chart.yaml").is_file()
