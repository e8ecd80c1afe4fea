"""values.schema.json (and the chart's own checks) through the real Helm library: good values
install, bad ones are refused before anything reaches the cluster, with a message that names
the value and says what is wrong."""

from __future__ import annotations

from typing import Any

import helm_sdkpy
import pytest
import yaml

from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.config import ConfigError, parse_config

from .helm import install, uninstall

pytestmark = pytest.mark.controlplane
APP = {"source": "rtmp://media:1935/{app}/{stream}"}


def app(**fields: Any) -> dict[str, Any]:
    return {"config": {"vhosts": {"default": {"apps": {"app": {**APP, **fields}}}}}}


BAD: list[tuple[str, dict[str, Any], list[str]]] = [
    ("zero api replicas", {"api": {"replicaCount": 0}},
     ["/api/replicaCount", "minimum: got 0, want 1"]),
    ("a misspelt key", {"api": {"replicas": 2}},
     ["/api", "additional properties 'replicas' not allowed"]),
    ("a port out of range", {"operator": {"livenessPort": 70000}},
     ["/operator/livenessPort", "maximum"]),
    ("a string for a number", {"api": {"port": "http"}}, ["/api/port", "want integer"]),
    ("root", {"podSecurityContext": {"runAsUser": 0}},
     ["/podSecurityContext/runAsUser", "minimum: got 0, want 1"]),
    ("runAsNonRoot off", {"podSecurityContext": {"runAsNonRoot": False}},
     ["/podSecurityContext/runAsNonRoot"]),
    ("privilege escalation", {"securityContext": {"allowPrivilegeEscalation": True}},
     ["/securityContext/allowPrivilegeEscalation"]),
    ("an unknown pull policy", {"image": {"pullPolicy": "Sometimes"}},
     ["/image/pullPolicy", "value must be one of 'Always', 'IfNotPresent', 'Never'"]),
    ("a source that is no URL", app(source="media:1935"),
     ["/config/vhosts/default/apps/app/source", "does not match pattern"]),
    # (Helm merges values over the defaults, so a new app is needed to lack a source.)
    ("an app without source", {"config": {"vhosts": {"default": {"apps": {"other": {}}}}}},
     ["/config/vhosts/default/apps/other", "missing property 'source'"]),
    ("a wrong file extension", app(filePath="x.mkv"),
     ["/config/vhosts/default/apps/app/filePath", "x.mkv"]),
    ("a path leaving the storage root", app(filePath="../x.ts"),
     ["config.vhosts.default.apps.app.filePath", "must stay inside the storage root"]),
    ("an absolute info path", app(infoPath="/etc/x.xml"),
     ["config.vhosts.default.apps.app.infoPath", "must stay inside the storage root"]),
    ("a storage with two volume sources",
     app(storage={"volume": {"emptyDir": {}, "hostPath": {"path": "/x"}}}),
     ["/config/vhosts/default/apps/app/storage/volume", "maxProperties"]),
    ("a variant selecting nothing by a bad media", app(variants={"v": {"media": "subtitle"}}),
     ["/config/vhosts/default/apps/app/variants/v/media"]),
    ("an app name unusable as a label", {"config": {"vhosts": {"default": {"apps": {
        "my app": APP}}}}}, ["invalid propertyName 'my app'", "does not match pattern"]),
    ("a bad namespace", app(namespace="Not_A_Namespace"),
     ["/config/vhosts/default/apps/app/namespace", "does not match pattern"]),
    # (null removes a default key in Helm.)
    ("no vhosts", {"config": {"vhosts": {"default": None}}}, ["/config/vhosts", "minProperties"]),
    ("the chart's claim for an app of another namespace",
     {"persistence": {"enabled": True}, **app(namespace="elsewhere")},
     ["config.vhosts.default.apps.app", 'namespace "elsewhere"',
      "give this app a storage of its own"]),
    ("a recorder grace period too short to finish a file",
     {"recorder": {"terminationGracePeriodSeconds": 1}},
     ["/recorder/terminationGracePeriodSeconds", "minimum: got 1, want 5"]),
    ("a ServiceMonitor without metrics",
     {"serviceMonitor": {"enabled": True}, "operator": {"metrics": {"enabled": False}}},
     ["serviceMonitor.enabled needs operator.metrics.enabled"]),
    ("a bad scrape interval", {"serviceMonitor": {"interval": "often"}},
     ["/serviceMonitor/interval", "does not match pattern"]),
    ("a bad claim size", {"persistence": {"size": "lots"}},
     ["/persistence/size", "does not match pattern"]),
]


@pytest.mark.parametrize(("values", "expected"), [(v, e) for _, v, e in BAD],
                         ids=[name for name, _, _ in BAD])
def test_bad_values_are_refused_with_a_clear_message(
    controlplane: ControlPlane, values: dict[str, Any], expected: list[str]
) -> None:
    try:
        install(controlplane.admin_kubeconfig, "default", "bad", values)
    except helm_sdkpy.InstallError as exc:
        message = str(exc)
    else:
        uninstall(controlplane.admin_kubeconfig, "default", "bad")
        pytest.fail(f"accepted: {values}")
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in: {message}"
    # Refused before anything was made: not even Helm's release record.
    assert not controlplane.request(
        "GET", "/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm%2Cname%3Dbad"
    )["items"]


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("variants and paths", app(
        filePath="${Stream}/${StartTime:YYYYMMDD}/${Sequence}.MP4", infoPath="${Stream}.XML",
        variants={"video": {"media": "video"}, "pair": {"trackIds": [0, 1]},
                  "a1": {"media": "audio", "index": 1}})),
    ("a digest, a NodePort and a percentage", {
        "image": {"digest": "sha256:" + "a" * 64},
        "api": {"service": {"type": "NodePort", "nodePort": 30081},
                "podDisruptionBudget": {"maxUnavailable": "50%"}}}),
    ("no metrics, no PDB, no aggregated roles, a token given", {
        "operator": {"metrics": {"enabled": False}, "stopTimeout": 60},
        "api": {"podDisruptionBudget": {"enabled": False}, "accessToken": "s3cret-s3cret-s3cret"},
        "rbac": {"aggregateToDefaultRoles": False}}),
    ("a LoadBalancer limited to some clients", {
        "api": {"service": {"type": "LoadBalancer",
                            "loadBalancerSourceRanges": ["192.0.2.0/24"]}}}),
]


@pytest.mark.parametrize("values", [v for _, v in GOOD], ids=[n for n, _ in GOOD])
def test_good_values_install(controlplane: ControlPlane, new_namespace: Any,
                             values: dict[str, Any]) -> None:
    namespace = new_namespace("good")
    release = install(controlplane.admin_kubeconfig, namespace, "good", values)
    assert release.status == "deployed"
    [configmap] = release.find("ConfigMap")
    try:
        parse_config(yaml.safe_load(configmap["data"]["config.yaml"]))
    except ConfigError as exc:  # the chart let through what the operator would refuse
        pytest.fail(f"the rendered config is refused by the loader: {exc}")
    uninstall(controlplane.admin_kubeconfig, namespace, "good")
