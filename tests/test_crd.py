"""The Recording CRD on the real API server: good Recordings are accepted (with defaults), and
every schema and CEL rule refuses what the API refuses, with the server's own message."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from recording_operator.local.controlplane import AdminError, ControlPlane
from recording_operator.model.rules import (
    CONTROL_CHARACTERS,
    SCHEDULE_PATTERN,
    TEXT_CONTROL_CHARACTERS,
    is_valid_schedule,
)

pytestmark = pytest.mark.controlplane

CRD_FILE = Path(__file__).resolve().parent.parent / "crds" / "recording.yaml"
KUBECTL = str(Path(sys.executable).parent / "kubectl")
BASE = "/apis/recording-operator.dev/v1alpha1/namespaces/{ns}/recordings"


def crd_version() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_FILE.read_text())
    version: dict[str, Any] = crd["spec"]["versions"][0]
    return version


def spec_schema() -> dict[str, Any]:
    schema: dict[str, Any] = crd_version()["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def create(plane: ControlPlane, ns: str, spec: Any, name: str = "r") -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "recording-operator.dev/v1alpha1", "kind": "Recording",
        "metadata": {"name": name},
    }
    if spec is not None:
        body["spec"] = spec
    return _retrying(lambda: plane.request("POST", BASE.format(ns=ns), body))


def _retrying(call: Any) -> dict[str, Any]:
    """Right after the CRD is Established its storage may still initialise (429)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            result: dict[str, Any] = call()
            return result
        except AdminError as exc:
            if exc.status != 429 or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def refused(plane: ControlPlane, ns: str, spec: Any) -> str:
    with pytest.raises(AdminError) as caught:
        create(plane, ns, spec)
    assert caught.value.status == 422, caught.value
    body = caught.value.body
    assert isinstance(body, dict)
    message: str = body["message"]
    return message


def test_schedule_pattern_is_the_models() -> None:
    assert spec_schema()["properties"]["schedule"]["pattern"] == SCHEDULE_PATTERN


def test_control_character_rules_are_the_models() -> None:
    props = spec_schema()["properties"]
    rules = {
        "id": props["id"], "stream.name": props["stream"]["properties"]["name"],
        "filePath": props["filePath"], "infoPath": props["infoPath"],
    }
    for field, schema in rules.items():
        assert {"rule": f'!self.matches(r"{CONTROL_CHARACTERS}")',
                "message": f"{field} must not contain control characters"} \
            in schema["x-kubernetes-validations"], field
    assert props["metadata"]["x-kubernetes-validations"][0]["rule"] == \
        f'!self.matches(r"{TEXT_CONTROL_CHARACTERS}")'


def test_a_minimal_recording_gets_the_defaults(controlplane: ControlPlane, namespace: str) -> None:
    made = create(controlplane, namespace, {"id": "a", "stream": {"name": "s"}})
    assert made["spec"] == {"id": "a", "vhost": "default", "app": "app",
                            "stream": {"name": "s"}, "segmentationRule": "discontinuity"}


def test_a_full_recording_is_accepted(controlplane: ControlPlane, namespace: str) -> None:
    spec = {
        "id": "full", "vhost": "live", "app": "cams",
        "stream": {"name": "cam1", "variantNames": ["video_1080"], "trackIds": [0, 1]},
        "schedule": "*/30 * *", "segmentationRule": "continuity",
        "filePath": "${VirtualHost}/${Id}/${StartTime:YYYYMMDDhhmmss}.mp4",
        "infoPath": "${Id}/info.xml", "metadata": "cam one",
        "source": {"url": "srt://ome.media:9999?streamid=default/app/cam1"},
    }
    assert create(controlplane, namespace, spec)["spec"] == spec
    create(controlplane, namespace, {"id": "i", "stream": {"name": "s"}, "interval": 60000},
           name="i")
    create(controlplane, namespace, {"id": "z", "stream": {"name": "s"}, "interval": 0,
                                     "schedule": "0 */1 *"}, name="z")


def test_a_leading_slash_and_long_names_up_to_255_bytes_are_accepted(
    controlplane: ControlPlane, namespace: str
) -> None:
    # OME's documented example path, as its clients send it
    spec = {"id": "ome", "stream": S, "filePath": "/path/to/save/recorded/file_${Sequence}.ts",
            "infoPath": "/" + "\u00e9" * 127 + "x/info.xml", "metadata": "line\n\tnext",
            "interval": 1000}
    assert create(controlplane, namespace, spec)["spec"]["filePath"] == spec["filePath"]


S = {"name": "s"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, "spec: Required value"),
        ({"stream": S}, "spec.id: Required value"),
        ({"id": "", "stream": S}, "spec.id: Invalid value: \"\": spec.id in body should be at "
                                  "least 1 chars long"),
        ({"id": "a" * 254, "stream": S}, "spec.id: Too long: may not be more than 253 bytes"),
        ({"id": "a"}, "spec.stream: Required value"),
        ({"id": "a", "stream": {}}, "spec.stream.name: Required value"),
        ({"id": "a", "stream": {"name": "s", "trackIds": [-1]}},
         "spec.stream.trackIds[0]: Invalid value: -1: spec.stream.trackIds[0] in body should "
         "be greater than or equal to 0"),
        ({"id": "a", "stream": S, "segmentationRule": "sometimes"},
         'spec.segmentationRule: Unsupported value: "sometimes": supported values: '
         '"continuity", "discontinuity"'),
        ({"id": "a", "stream": S, "interval": -1},
         "spec.interval: Invalid value: -1: spec.interval in body should be greater than or "
         "equal to 0"),
        ({"id": "a", "stream": S, "interval": 1000, "schedule": "0 */1 *"},
         "[Interval] and [Schedule] cannot be used at the same time"),
        ({"id": "a", "stream": S, "filePath": "../x.ts"},
         "spec.filePath: Invalid value: \"../x.ts\": filePath must stay inside the storage root"),
        ({"id": "a", "stream": S, "filePath": "/../x.ts"},
         "filePath must stay inside the storage root"),
        ({"id": "a\x01", "stream": S}, "id must not contain control characters"),
        ({"id": "a", "stream": {"name": "s\x7f"}},
         "stream.name must not contain control characters"),
        ({"id": "a", "stream": S, "filePath": "a\nb.ts"},
         "filePath must not contain control characters"),
        ({"id": "a", "stream": S, "infoPath": "a\x1b.xml"},
         "infoPath must not contain control characters"),
        ({"id": "a", "stream": S, "metadata": "bell\x07"},
         "metadata must not contain control characters"),
        ({"id": "a", "stream": S, "filePath": "d/" + "\u00e9" * 128 + ".ts"},
         "filePath must not have a name longer than 255 bytes"),
        ({"id": "a", "stream": S, "infoPath": "x" * 252 + ".xml"},
         "infoPath must not have a name longer than 255 bytes"),
        ({"id": "a", "stream": S, "interval": 999},
         "interval must be 0 (no split) or at least 1000 milliseconds"),
        ({"id": "a", "stream": S, "filePath": "a/./x.ts"},
         "filePath must stay inside the storage root"),
        ({"id": "a", "stream": S, "filePath": "x.mkv"}, "filePath must end with .ts or .mp4"),
        ({"id": "a", "stream": S, "infoPath": "a/../../x.xml"},
         "infoPath must stay inside the storage root"),
        ({"id": "a", "stream": S, "infoPath": "x.json"}, "infoPath must end with .xml"),
        ({"id": "a", "stream": S, "metadata": "m" * 4097},
         "spec.metadata: Too long: may not be more than 4096 bytes"),
        ({"id": "a", "stream": S, "source": {"url": "not a url"}},
         "spec.source.url: Invalid value: \"not a url\": spec.source.url in body should match"),
    ],
)
def test_each_rule_is_refused_with_its_message(
    controlplane: ControlPlane, namespace: str, spec: Any, message: str
) -> None:
    assert message in refused(controlplane, namespace, spec)


@pytest.mark.parametrize(
    "schedule",
    ["0 */1 * *", "0 1-5 *", "0 0,30 *", "0 */0 *", "60 * *", "0 * 24", "05 * *", "0  * *",
     "*/60 * *", "@hourly", " 0 * *", ""],
)
def test_bad_schedules_are_refused_by_the_server_as_by_the_api(
    controlplane: ControlPlane, namespace: str, schedule: str
) -> None:
    assert not is_valid_schedule(schedule)
    message = refused(controlplane, namespace, {"id": "a", "stream": S, "schedule": schedule})
    assert "spec.schedule in body should match" in message


def test_good_schedules_are_accepted_by_the_server_as_by_the_api(
    controlplane: ControlPlane, namespace: str
) -> None:
    for n, schedule in enumerate(["0 */1 *", "*/30 * *", "10 */1 *", "* * *", "59 59 23",
                                  "*/59 */59 */23", "0 0 0", "7 8 9"]):
        assert is_valid_schedule(schedule)
        create(controlplane, namespace, {"id": "a", "stream": S, "schedule": schedule},
               name=f"s{n}")


def test_the_spec_is_immutable(controlplane: ControlPlane, namespace: str) -> None:
    create(controlplane, namespace, {"id": "a", "stream": S})
    with pytest.raises(AdminError) as caught:
        controlplane.request(
            "PATCH", BASE.format(ns=namespace) + "/r", {"spec": {"stream": {"name": "other"}}},
            content_type="application/merge-patch+json")
    assert caught.value.status == 422
    assert "spec is immutable; delete the Recording and create a new one" in str(caught.value)
    # metadata (labels, finalizers) stays editable: the operator adds labels and a finalizer
    controlplane.request(
        "PATCH", BASE.format(ns=namespace) + "/r",
        {"metadata": {"labels": {"recording-operator.dev/app": "app"}}},
        content_type="application/merge-patch+json")


def test_status_state_is_an_enum_and_status_is_a_subresource(
    controlplane: ControlPlane, namespace: str
) -> None:
    create(controlplane, namespace, {"id": "a", "stream": S})
    path = BASE.format(ns=namespace) + "/r/status"
    with pytest.raises(AdminError) as caught:
        controlplane.request("PATCH", path, {"status": {"state": "started"}},
                             content_type="application/merge-patch+json")
    assert 'status.state: Unsupported value: "started"' in str(caught.value)
    controlplane.request("PATCH", path, {"status": {"state": "recording", "sequence": 2}},
                         content_type="application/merge-patch+json")
    # a status in a main-resource write is ignored
    controlplane.request("PATCH", BASE.format(ns=namespace) + "/r",
                         {"status": {"state": "error"}},
                         content_type="application/merge-patch+json")
    got = controlplane.request("GET", BASE.format(ns=namespace) + "/r")
    assert got["status"] == {"state": "recording", "sequence": 2}


def test_selectable_fields_filter_on_the_spec(controlplane: ControlPlane, namespace: str) -> None:
    create(controlplane, namespace, {"id": "a,b", "stream": S}, name="one")
    create(controlplane, namespace, {"id": "c", "app": "other", "stream": S}, name="two")
    listed = controlplane.request(
        "GET", BASE.format(ns=namespace) + "?fieldSelector=spec.id%3Da%5C%2Cb")
    assert [r["metadata"]["name"] for r in listed["items"]] == ["one"]
    listed = controlplane.request(
        "GET", BASE.format(ns=namespace) + "?fieldSelector=spec.vhost%3Ddefault,spec.app%3Dother")
    assert [r["metadata"]["name"] for r in listed["items"]] == ["two"]


def test_kubectl_apply_shows_the_servers_message_and_columns(
    controlplane: ControlPlane, namespace: str
) -> None:
    _retrying(lambda: controlplane.request("GET", BASE.format(ns=namespace)))
    bad = f"""
apiVersion: recording-operator.dev/v1alpha1
kind: Recording
metadata: {{name: both, namespace: {namespace}}}
spec: {{id: both, stream: {{name: s}}, interval: 1000, schedule: "0 */1 *"}}
"""
    result = subprocess.run([KUBECTL, f"--kubeconfig={controlplane.admin_kubeconfig}", "apply",
                             "-f", "-"], input=bad, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "[Interval] and [Schedule] cannot be used at the same time" in result.stderr
    good = bad.replace("interval: 1000, ", "")
    result = subprocess.run([KUBECTL, f"--kubeconfig={controlplane.admin_kubeconfig}", "apply",
                             "-f", "-"], input=good, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([KUBECTL, f"--kubeconfig={controlplane.admin_kubeconfig}", "get",
                             "rec", "-n", namespace], capture_output=True, text=True, timeout=60)
    assert result.stdout.split("\n")[0].split() == ["NAME", "ID", "STREAM", "STATE", "SEQUENCE",
                                                    "DELIVERY", "AGE"]
    assert result.stdout.split("\n")[1].split()[:3] == ["both", "both", "s"]


def test_kubectl_cannot_create_a_recording_with_control_characters(
    controlplane: ControlPlane, namespace: str
) -> None:
    _retrying(lambda: controlplane.request("GET", BASE.format(ns=namespace)))
    # JSON is YAML: the escapes reach the server as real control characters
    bad = ('{"apiVersion": "recording-operator.dev/v1alpha1", "kind": "Recording", '
           f'"metadata": {{"name": "ctl", "namespace": "{namespace}"}}, '
           '"spec": {"id": "a\\u0001b", "stream": {"name": "s"}, "metadata": "x\\u001b[31m"}}')
    result = subprocess.run([KUBECTL, f"--kubeconfig={controlplane.admin_kubeconfig}", "apply",
                             "-f", "-"], input=bad, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "id must not contain control characters" in result.stderr
    assert "metadata must not contain control characters" in result.stderr
