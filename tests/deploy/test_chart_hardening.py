"""The chart's hardening parts (issue 16), installed by the real Helm library into the real local
control plane: the recorder admission policy (rendered from the same file the embedded mode
applies, and enforced for the chart's recorder account), HTTPS for the API from a TLS Secret, the
plain-HTTP warning, the token rules, and the alerts and dashboard (every expression checked by
the real promtool, the alerts run against series that should and should not fire them)."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_sdkpy
import pytest
import yaml

from recording_operator.cli.main import build_parser
from recording_operator.controller.metrics import REGISTRY
from recording_operator.local import policy
from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.naming import pod_name
from recording_operator.model.resource import API_VERSION, GROUP, PLURAL, VERSION
from tests.waiting import wait_for

from .helm import CHART, ROOT, Release, install, uninstall
from .kube import add_prometheus_operator_crd, read_back

pytestmark = pytest.mark.controlplane
Obj = dict[str, Any]


@pytest.fixture(scope="session")
def promtool() -> Path:
    """The real promtool, built once from its Go module (tools/promtool/build.sh)."""
    done = subprocess.run(["bash", str(ROOT / "tools" / "promtool" / "build.sh")],
                          capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def prometheus_rule_crd(controlplane: ControlPlane) -> None:
    add_prometheus_operator_crd(controlplane, "PrometheusRule")


@pytest.fixture
def installed(controlplane: ControlPlane, new_namespace: Any) -> Iterator[Any]:
    """install(values, prefix=...) into a fresh namespace; uninstalled afterwards."""
    made: list[tuple[str, str]] = []

    def make(values: Obj, prefix: str = "hard") -> Release:
        namespace = new_namespace(prefix)
        made.append((namespace, "rec"))
        return install(controlplane.admin_kubeconfig, namespace, "rec", values)

    yield make
    for namespace, name in made:
        # a refused install leaves no release
        with contextlib.suppress(helm_sdkpy.ReleaseNotFoundError):
            uninstall(controlplane.admin_kubeconfig, namespace, name)


def _api_container(release: Release) -> Obj:
    containers: list[Obj] = release.deployment("api")["spec"]["template"]["spec"]["containers"]
    [box] = containers
    return box


# -- item 3: the recorder admission policy --------------------------------------------------


def test_the_recorder_policy_is_the_shared_file_bound_to_the_recording_namespaces(
    installed: Any, controlplane: ControlPlane, new_namespace: Any,
) -> None:
    other = new_namespace("studio")
    release = installed({"config": {"vhosts": {"live": {"apps": {"cam": {
        "source": "rtmp://media/{app}/{stream}", "namespace": other}}}}}})
    account = f"{release.fullname}-recorder"
    vap = release.one("ValidatingAdmissionPolicy")
    assert vap["metadata"]["name"] == f"{release.namespace}-{release.fullname}-recorder"
    assert vap["spec"] == policy.policy_spec(account)
    assert f"endsWith(':{account}')" in vap["spec"]["matchConditions"][0]["expression"]
    binding = release.one("ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == vap["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    [selector] = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert selector["values"] == sorted([release.namespace, other])
    for obj in (vap, binding):
        read_back(controlplane, obj)  # accepted: every CEL expression compiled
    assert not installed({"recorder": {"admissionPolicy": {"enabled": False}}}).find(
        "ValidatingAdmissionPolicy")


def test_the_charts_policy_stops_a_recorder_pod_writing_another_recording(
    installed: Any, controlplane: ControlPlane,
) -> None:
    """With the chart's recorder account and Role: a token bound to one recorder pod."""
    import ssl
    import urllib.error
    import urllib.request

    release = installed({})
    ns, account = release.namespace, f"{release.fullname}-recorder"
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"
    for name in ("mine", "theirs"):
        controlplane.request("POST", base, {"apiVersion": API_VERSION, "kind": "Recording",
                                            "metadata": {"name": name},
                                            "spec": {"id": name, "stream": {"name": "s"}}})
    pod = controlplane.request("POST", f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name("mine")},
        "spec": {"serviceAccountName": account, "automountServiceAccountToken": False,
                 "containers": [{"name": "recorder", "image": "recording-operator"}]}})
    token = controlplane.token(ns, account, bound_pod=(pod_name("mine"), pod["metadata"]["uid"]))
    context = ssl.create_default_context(cafile=str(controlplane.ca_cert))

    def patch(name: str) -> int:
        req = urllib.request.Request(
            f"{controlplane.url}{base}/{name}/status", method="PATCH",
            data=json.dumps({"status": {"recordBytes": 1}}).encode(),
            headers={"Content-Type": "application/merge-patch+json",
                     "Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, context=context, timeout=15) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    wait_for(lambda: patch("theirs") == 403, 15, "the chart's policy to be enforced")
    assert patch("mine") == 200  # the chart's Role allows it; the policy too


# -- item 8: transport and secrets -----------------------------------------------------------


def test_tls_mounts_the_secret_and_serves_probes_over_https(installed: Any) -> None:
    release = installed({"api": {"tls": {"enabled": True, "secretName": "api-cert"}}})
    deployment = release.deployment("api")
    box = _api_container(release)
    args = build_parser().parse_args(box["args"])
    mount = next(m for m in box["volumeMounts"] if m["name"] == "tls")
    assert args.tls_cert_file == f"{mount['mountPath']}/tls.crt"
    assert args.tls_key_file == f"{mount['mountPath']}/tls.key"
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "tls")
    assert volume["secret"]["secretName"] == "api-cert"
    for probe in ("readinessProbe", "livenessProbe"):
        assert box[probe]["httpGet"]["scheme"] == "HTTPS"
    assert not args.public_openapi
    assert f"https://{release.fullname}-api.{release.namespace}.svc:8081/v1" in release.notes
    assert "over plain HTTP" not in release.notes


def test_tls_without_a_secret_name_is_refused(installed: Any) -> None:
    with pytest.raises(Exception, match=r"api\.tls\.secretName: name the kubernetes\.io/tls"):
        installed({"api": {"tls": {"enabled": True}}})


@pytest.mark.parametrize(("service", "tls", "warned"), [
    ("NodePort", False, True), ("LoadBalancer", False, True), ("NodePort", True, False),
    ("ClusterIP", False, False)])
def test_notes_warn_when_the_api_is_exposed_over_plain_http(
    installed: Any, service: str, tls: bool, warned: bool,
) -> None:
    values: Obj = {"api": {"service": {"type": service}}}
    if tls:
        values["api"]["tls"] = {"enabled": True, "secretName": "api-cert"}
    notes = installed(values).notes
    assert (f"WARNING: the API is exposed as a {service} Service over plain HTTP" in notes) \
        is warned


def test_a_token_under_16_characters_is_refused_and_a_given_one_renders_stably(
    installed: Any,
) -> None:
    with pytest.raises(Exception, match="accessToken"):
        installed({"api": {"accessToken": "short"}})
    token = "a-token-of-thirty-two-characters"
    first, second = installed({"api": {"accessToken": token}}), installed(
        {"api": {"accessToken": token}})
    assert first.one("Secret")["data"] == second.one("Secret")["data"]


def test_public_openapi_is_a_flag_the_real_cli_parses(installed: Any) -> None:
    box = _api_container(installed({"api": {"publicOpenapi": True}}))
    assert build_parser().parse_args(box["args"]).public_openapi


# -- item 10: alerts and dashboard -----------------------------------------------------------


def _operator_metric_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    # counters are exported with _total; histograms with _bucket/_sum/_count
    names.update(f"{n}_total" for n in list(names))
    names.update(f"{n}_bucket" for n in list(names))
    return names


def _kube_state_metric_names() -> set[str]:
    config = yaml.safe_load((CHART / "files" / "kube-state-metrics.yaml").read_text())
    [resource] = config["spec"]["resources"]
    return {f"{resource['metricNamePrefix']}_{m['name']}" for m in resource["metrics"]}


#: Series of other exporters the rules use: kube-state-metrics' pods, the kubelet's volumes.
STANDARD = {"kube_pod_status_phase", "kube_pod_container_status_waiting_reason",
            "kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes",
            "process_resident_memory_bytes"}
METRIC = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(?:\{|\[|\)|$| [<>=!])")
PROMQL_WORDS = {"sum", "max", "min", "by", "on", "and", "or", "unless", "without", "rate",
                "increase", "deriv", "topk", "histogram_quantile", "max_over_time",
                "min_over_time", "predict_linear", "le", "group_left", "offset"}


def _metrics_in(expr: str) -> set[str]:
    found = {m for m in METRIC.findall(expr) if m not in PROMQL_WORDS}
    return {m for m in found if "_" in m}


def _check_rules(promtool: Path, groups: list[Obj], tmp_path: Path) -> Path:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    done = subprocess.run([str(promtool), "check", "rules", str(rules)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return rules


def test_every_alert_parses_and_uses_only_series_that_exist(
    installed: Any, prometheus_rule_crd: None, promtool: Path, tmp_path: Path,
    controlplane: ControlPlane,
) -> None:
    release = installed({"prometheusRule": {"enabled": True, "labels": {"release": "prom"}}})
    rule = release.one("PrometheusRule")
    read_back(controlplane, rule)
    assert rule["metadata"]["labels"]["release"] == "prom"
    groups = rule["spec"]["groups"]
    alerts = {r["alert"]: r for g in groups for r in g["rules"]}
    assert set(alerts) >= {"RecordingNotGrowing", "RecordingTasksInError", "RecorderPodStuck",
                           "RecorderPodsFailing", "RecordingVolumeNearlyFull"}
    _check_rules(promtool, groups, tmp_path)
    known = _operator_metric_names() | _kube_state_metric_names() | STANDARD
    for name, alert in alerts.items():
        used = _metrics_in(alert["expr"])
        assert used and used <= known, f"{name} uses series nobody exports: {used - known}"
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
    # the default claim is the chart's
    assert f'persistentvolumeclaim=~"{release.fullname}-recordings"' in \
        alerts["RecordingVolumeNearlyFull"]["expr"]


def test_the_alerts_fire_on_what_they_describe_and_not_on_healthy_series(
    installed: Any, prometheus_rule_crd: None, promtool: Path, tmp_path: Path,
) -> None:
    """promtool test rules: synthetic series through the real rule evaluation."""
    release = installed({"prometheusRule": {"enabled": True, "diskClaims": "recs"}})
    groups = release.one("PrometheusRule")["spec"]["groups"]
    rules = _check_rules(promtool, groups, tmp_path)
    task = 'namespace="media",name="lobby",id="lobby"'
    healthy = 'namespace="media",name="hall",id="hall"'
    tests = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            # lobby: grows for 10 minutes, then stays still while its state says recording
            {"series": f"recording_operator_recording_bytes{{{task}}}",
             "values": "0+1000x10 10000x50"},
            {"series": f'recording_operator_recording_state{{{task},state="recording"}}',
             "values": "1x60"},
            # hall: keeps growing
            {"series": f"recording_operator_recording_bytes{{{healthy}}}", "values": "0+500x60"},
            {"series": f'recording_operator_recording_state{{{healthy},state="recording"}}',
             "values": "1x60"},
            {"series": 'recording_operator_recordings{state="error"}', "values": "0x10 2x50"},
            {"series": 'kube_pod_status_phase{namespace="media",pod="lobby-recorder",'
                       'phase="Pending"}', "values": "1x60"},
            {"series": 'kube_pod_status_phase{namespace="media",pod="hall-recorder",'
                       'phase="Pending"}', "values": "1x3 0x57"},
            {"series": 'kubelet_volume_stats_available_bytes{namespace="media",'
                       'persistentvolumeclaim="recs"}', "values": "50x60"},
            {"series": 'kubelet_volume_stats_capacity_bytes{namespace="media",'
                       'persistentvolumeclaim="recs"}', "values": "1000x60"},
        ],
        "alert_rule_test": [
            {"eval_time": "8m", "alertname": "RecordingNotGrowing", "exp_alerts": []},
            {"eval_time": "40m", "alertname": "RecordingNotGrowing", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "namespace": "media", "name": "lobby",
                               "id": "lobby"},
                "exp_annotations": {
                    "summary": "Recording media/lobby (id lobby) records nothing",
                    "description": "Its state is recording but its bytes have not grown for "
                                   "10m: the stream may have stalled or the recorder hangs. "
                                   "kubectl describe rec -n media lobby"}}]},
            {"eval_time": "40m", "alertname": "RecordingTasksInError", "exp_alerts": [{
                "exp_labels": {"severity": "warning"},
                "exp_annotations": {
                    "summary": "2 recording task(s) in state error",
                    "description": alert_text(groups, "RecordingTasksInError")}}]},
            {"eval_time": "40m", "alertname": "RecorderPodStuck", "exp_alerts": [{
                "exp_labels": {"severity": "warning", "namespace": "media",
                               "pod": "lobby-recorder"},
                "exp_annotations": {
                    "summary": "Recorder pod media/lobby-recorder has not started for 10m",
                    "description": "Its task records nothing; kubectl describe pod -n media "
                                   "lobby-recorder says why (the kubelet's reason)."}}]},
            {"eval_time": "40m", "alertname": "RecordingVolumeNearlyFull", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "namespace": "media",
                               "persistentvolumeclaim": "recs"},
                "exp_annotations": {
                    "summary": "Recordings volume media/recs is nearly full",
                    "description": "5% free: recorders wait when it is full. Delete or move "
                                   "old recordings, or grow the claim."}}]},
        ],
    }]}
    test_file = tmp_path / "rules_test.yaml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run([str(promtool), "test", "rules", str(test_file)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def alert_text(groups: list[Obj], alert: str) -> str:
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == alert)
    return str(rule["annotations"]["description"])


def test_the_dashboard_is_a_sidecar_configmap_of_valid_queries(
    installed: Any, promtool: Path, tmp_path: Path,
) -> None:
    release = installed({"grafanaDashboard": {"enabled": True}})
    configmap = release.one("ConfigMap", f"{release.fullname}-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["recording-operator.json"])
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Tasks by state", "Bytes recorded per second", "Recorder pods: created and failed",
            "Operator errors by handler"} <= titles
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    # Grafana's variables, as Grafana fills them in
    concrete = [e.replace("$__rate_interval", "2m").replace("$claim", ".*") for e in exprs]
    _check_rules(promtool, [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(concrete)]}],
        tmp_path)
    known = _operator_metric_names() | _kube_state_metric_names() | STANDARD
    for expr in concrete:
        assert _metrics_in(expr) <= known, expr
    assert not installed({}).find("ConfigMap", f"{release.fullname}-dashboard")


def test_the_kube_state_metrics_config_reads_fields_the_crd_has() -> None:
    crd = yaml.safe_load((ROOT / "crds" / "recording.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    config = yaml.safe_load((CHART / "files" / "kube-state-metrics.yaml").read_text())
    [resource] = config["spec"]["resources"]
    assert resource["groupVersionKind"] == {"group": GROUP, "version": VERSION,
                                            "kind": "Recording"}
    for metric in resource["metrics"]:
        each = metric["each"]
        path = (each.get("gauge") or each.get("stateSet"))["path"]
        assert path[0] == "status" and path[1] in schema["status"]["properties"], path
