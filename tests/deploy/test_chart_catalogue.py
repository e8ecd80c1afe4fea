"""The chart wires the catalogue and the export in a cluster (issue 15): the delivery Deployment
is subscribed to the API's catalogue endpoint with a signing secret both sides read from one
Secret, and the API pods see the recordings claim (read-only) as their storage root. The
rendered env and args go through the real settings loader and CLI parser."""

from __future__ import annotations

import argparse
import base64
import secrets
from pathlib import Path
from typing import Any

import helm_sdkpy
import pytest
import yaml

from recording_operator.api.catalogue_events import PATH as EVENTS_PATH
from recording_operator.api.settings import TOKEN_ENV, ApiSettings, load_settings
from recording_operator.cli.main import build_parser
from recording_operator.local.controlplane import ControlPlane

from .helm import CHART, Release, install, uninstall, upgrade

pytestmark = pytest.mark.controlplane
Obj = dict[str, Any]
POSTGRES = "postgresql://recordings@postgres.db.svc:5432/recordings"
CATALOGUE = {"config": {"catalogue": {"url": POSTGRES}}, "persistence": {"enabled": True}}


def container(release: Release, component: str) -> Obj:
    [only] = release.deployment(component)["spec"]["template"]["spec"]["containers"]
    box: Obj = only
    return box


def env_of(release: Release, component: str) -> dict[str, str]:
    """The container's environment as the kubelet would give it (secretKeyRefs resolved from
    the Secrets of the release; a reference to a Secret it did not make stays unresolved)."""
    out: dict[str, str] = {}
    for var in container(release, component).get("env", []):
        if "value" in var:
            out[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"]["secretKeyRef"]
        found = release.find("Secret", ref["name"])
        out[var["name"]] = (base64.b64decode(found[0]["data"][ref["key"]]).decode()
                            if found else f"<{ref['name']}/{ref['key']}>")
    return out


def secret_ref(release: Release, component: str, name: str) -> Obj:
    [var] = [v for v in container(release, component)["env"] if v["name"] == name]
    ref: Obj = var["valueFrom"]["secretKeyRef"]
    return ref


def delivery_args(release: Release) -> argparse.Namespace:
    box = container(release, "delivery")
    return build_parser().parse_args(box["args"])


def api_settings(release: Release, tmp_path: Path) -> ApiSettings:
    """What the API process makes of the rendered ConfigMap and env."""
    [configmap] = release.find("ConfigMap", f"{release.fullname}-config")
    config = tmp_path / "config.yaml"
    config.write_text(configmap["data"]["config.yaml"])
    environ = {**env_of(release, "api"), TOKEN_ENV: "t" * 32}
    return load_settings(config_path=str(config), environ=environ)


def mounts(release: Release, component: str) -> dict[str, Obj]:
    return {m["name"]: m for m in container(release, component)["volumeMounts"]}


def volumes(release: Release, component: str) -> dict[str, Obj]:
    spec = release.deployment(component)["spec"]["template"]["spec"]
    return {v["name"]: v for v in spec["volumes"]}


def test_delivery_is_subscribed_to_the_catalogue_with_one_kept_secret(
    controlplane: ControlPlane, new_namespace: Any, tmp_path: Path
) -> None:
    namespace = new_namespace("cat")
    kube = controlplane.admin_kubeconfig
    release = install(kube, namespace, "rec", CATALOGUE)
    try:
        # The default app has no upload, events or retention: the delivery runs for the
        # catalogue alone, and posts to the API Service's catalogue endpoint.
        service = release.one("Service", f"{release.fullname}-api")
        port = service["spec"]["ports"][0]["port"]
        args = delivery_args(release)
        assert args.extra_receiver == (
            f"http://{service['metadata']['name']}.{namespace}.svc:{port}/v1{EVENTS_PATH}")
        delivery_env = env_of(release, "delivery")
        settings = api_settings(release, tmp_path)
        assert settings.catalogue_url == POSTGRES
        # The secret the delivery signs with is the one the API checks, from the chart's Secret.
        assert settings.catalogue_secret
        assert len(settings.catalogue_secret) >= 32
        assert delivery_env["RECORDING_OPERATOR_EXTRA_RECEIVER_SECRET"] == settings.catalogue_secret
        assert secret_ref(release, "api", "RECORDING_OPERATOR_CATALOGUE_SECRET")["name"] \
            == f"{release.fullname}-catalogue"
        # An upgrade keeps it: events already queued stay verifiable.
        again = upgrade(kube, namespace, "rec", CATALOGUE)
        assert env_of(again, "api")["RECORDING_OPERATOR_CATALOGUE_SECRET"] \
            == settings.catalogue_secret
    finally:
        uninstall(kube, namespace, "rec")


def test_api_pods_read_the_recordings_claim_as_their_storage_root(
    controlplane: ControlPlane, new_namespace: Any, tmp_path: Path
) -> None:
    namespace = new_namespace("exp")
    kube = controlplane.admin_kubeconfig
    release = install(kube, namespace, "rec", {"persistence": {"enabled": True}})
    try:
        settings = api_settings(release, tmp_path)
        mount = mounts(release, "api")["recordings"]
        assert mount["readOnly"] is True
        assert settings.storage_root == Path(mount["mountPath"])
        claim = volumes(release, "api")["recordings"]["persistentVolumeClaim"]
        # read-only in the container only: a pod-level read-only claim, mounted first, would
        # keep the kubelet from giving the volume the pods' fsGroup (recorders then cannot write)
        assert claim == {"claimName": f"{release.fullname}-recordings"}
        # The same root the config's default storage (and the delivery) points into.
        app = settings.config.app("default", "app")
        assert app is not None
        assert app.storage.volume["persistentVolumeClaim"]["claimName"] == claim["claimName"]
        # No catalogue configured: nothing catalogue-related is rendered.
        assert settings.catalogue_secret is None
        assert not release.find("Secret", f"{release.fullname}-catalogue")
        assert not release.find("Deployment", f"{release.fullname}-delivery")
    finally:
        uninstall(kube, namespace, "rec")
    release = install(kube, namespace, "bare", {})
    try:
        assert api_settings(release, tmp_path).storage_root is None
        assert "recordings" not in volumes(release, "api")
    finally:
        uninstall(kube, namespace, "bare")


def test_tls_an_existing_secret_and_a_single_replica_on_sqlite(
    controlplane: ControlPlane, new_namespace: Any
) -> None:
    namespace = new_namespace("cat")
    kube = controlplane.admin_kubeconfig
    values = {"config": {"catalogue": {"url": "sqlite:////tmp/catalogue.db",
                                       "existingSecret": "my-hooks",
                                       "existingSecretKey": "catalogue"}},
              "persistence": {"enabled": True},
              "api": {"replicaCount": 1, "prefix": "/ome/v1",
                      "tls": {"enabled": True, "secretName": "api-tls"},
                      "service": {"port": 443}}}
    release = install(kube, namespace, "rec", values)
    try:
        assert delivery_args(release).extra_receiver == (
            f"https://{release.fullname}-api.{namespace}.svc:443/ome/v1{EVENTS_PATH}")
        expected = {"name": "my-hooks", "key": "catalogue"}
        assert secret_ref(release, "api", "RECORDING_OPERATOR_CATALOGUE_SECRET") == expected
        assert secret_ref(release, "delivery", "RECORDING_OPERATOR_EXTRA_RECEIVER_SECRET") \
            == expected
        assert not release.find("Secret", f"{release.fullname}-catalogue")
    finally:
        uninstall(kube, namespace, "rec")


REFUSED: list[tuple[str, Obj, list[str]]] = [
    ("SQLite shared by two API replicas",
     {"config": {"catalogue": {"url": "sqlite:////tmp/c.db"}}, "persistence": {"enabled": True}},
     ["config.catalogue.url", "2 API replicas cannot share a SQLite file", "postgresql://"]),
    ("a catalogue without the recordings claim", {"config": {"catalogue": {"url": POSTGRES}}},
     ["config.catalogue.url", "persistence.enabled: true"]),
]


@pytest.mark.parametrize(("values", "expected"), [(v, e) for _, v, e in REFUSED],
                         ids=[name for name, _, _ in REFUSED])
def test_a_catalogue_the_cluster_cannot_serve_is_refused(
    controlplane: ControlPlane, values: Obj, expected: list[str]
) -> None:
    name = f"bad-{secrets.token_hex(3)}"
    try:
        install(controlplane.admin_kubeconfig, "default", name, values)
    except helm_sdkpy.InstallError as exc:
        message = str(exc)
    else:
        uninstall(controlplane.admin_kubeconfig, "default", name)
        pytest.fail(f"accepted: {values}")
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_values_yaml_leaves_the_catalogue_off() -> None:
    """A database is the user's to provide: by default no catalogue, so no refusal either."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["config"]["catalogue"]["url"] == ""
