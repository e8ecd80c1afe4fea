"""End-to-end scenarios against an installed chart, written once for any cluster: the chart's
Deployments on the local virtual kubelet (test_chart_local.py) and a kind cluster
(kind/test_kind_scenarios.py, via `make e2e-kind`). A scenario sees only what a user sees: the
REST API, kubectl, and the files in the app's storage."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import httpx
import yaml

from tests.waiting import wait_for

from .helm import EXAMPLES

T = TypeVar("T")
STAMP = r"\d{14}"
APP = "/vhosts/default/apps/app"


class Cluster(Protocol):
    """What the scenarios need from an installed release."""

    #: Namespace of the Recordings of default/app.
    namespace: str
    #: A stream being published to default/app right now.
    stream: str

    def api(self) -> httpx.Client:
        """A client of the installed API (base URL ending in /v1, token from the Secret)."""

    def files(self) -> dict[str, int]:
        """The files in default/app's storage: path relative to its root → size."""

    def restart_operator(self) -> None:
        """Deletes the operator's pod and waits until its replacement is available."""

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubectl against the cluster, as a cluster admin."""

    def explain(self) -> str:
        """What to print when a scenario times out (logs of the chart's pods)."""



def task(api: httpx.Client, record_id: str) -> dict[str, Any] | None:
    answer = api.post(f"{APP}:records", json={"id": record_id})
    assert answer.status_code == 200, answer.text
    tasks: list[dict[str, Any]] = answer.json()["response"]
    return tasks[0] if tasks else None


def recording_with(api: httpx.Client, record_id: str,
                   check: Callable[[dict[str, Any]], bool]) -> Callable[[], dict[str, Any] | None]:
    def probe() -> dict[str, Any] | None:
        found = task(api, record_id)
        return found if found is not None and found["state"] == "recording" and check(
            found) else None
    return probe


def stop_and_wait_gone(cluster: Cluster, api: httpx.Client, record_id: str) -> None:
    answer = api.post(f"{APP}:stopRecord", json={"id": record_id})
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]["state"] == "stopping"
    wait_for(lambda: task(api, record_id) is None, 90, f"{record_id} to leave the list",
             cluster.explain)


def ome_files(cluster: Cluster, transaction: str) -> tuple[list[str], list[str]]:
    """(finished media files, info files) of one task, named as OvenMediaEngine names them."""
    names = cluster.files()
    stream = re.escape(cluster.stream)
    media = sorted(n for n, size in names.items() if size > 0 and re.fullmatch(
        # (_N: the recorder's suffix when two files would get the same name)
        rf"{transaction}_default_app_{stream}_{STAMP}_{STAMP}(_\d+)?\.ts", n))
    info = [n for n in names if n == f"{transaction}_default_app_{cluster.stream}.xml"]
    return media, info


def interval_recording(cluster: Cluster, record_id: str) -> None:
    """startRecord with an interval → recording, files split → stopRecord → gone; every file
    and the info XML are in the app's storage."""
    with cluster.api() as api:
        started = api.post(f"{APP}:startRecord", json={
            "id": record_id, "stream": {"name": cluster.stream}, "interval": 2000})
        assert started.status_code == 200, started.text
        first = wait_for(recording_with(api, record_id, lambda t: t.get("sequence", 0) >= 1),
                         90, f"{record_id} to record and finish its first file", cluster.explain)
        assert first["totalRecordBytes"] > 0
        assert first["outputFilePath"].endswith(".ts")
        duplicate = api.post(f"{APP}:startRecord", json={
            "id": record_id, "stream": {"name": cluster.stream}})
        assert duplicate.status_code == 409, duplicate.text
        stop_and_wait_gone(cluster, api, record_id)
    # The task shows no transactionId (as in OME), but its files are named after it.
    transaction = first["outputFilePath"].rsplit("/", 1)[-1].split("_", 1)[0]
    media, info = ome_files(cluster, transaction)
    assert len(media) >= 2, sorted(cluster.files())
    assert info, sorted(cluster.files())


def kubectl_recording(cluster: Cluster, record_id: str) -> None:
    """A Recording applied with kubectl (the interval example, renamed) is recorded, shows in
    `kubectl get rec` and in the API's records, and `kubectl delete` stops it."""
    manifest = yaml.safe_load((EXAMPLES / "recording-interval.yaml").read_text())
    manifest["metadata"]["name"] = record_id
    manifest["spec"].update(id=record_id, interval=2000)
    manifest["spec"]["stream"]["name"] = cluster.stream
    applied = cluster.kubectl("apply", "-n", cluster.namespace, "-f", "-",
                              stdin=yaml.safe_dump(manifest))
    assert applied.returncode == 0, applied.stderr
    with cluster.api() as api:
        seen = wait_for(recording_with(api, record_id, lambda t: t.get("totalRecordBytes", 0) > 0),
                        90, f"the kubectl-made {record_id} in the API's records", cluster.explain)
        assert seen["segmentationRule"] == "continuity"
        listed = cluster.kubectl("get", "rec", "-n", cluster.namespace, record_id,
                                 "--no-headers")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split()[:4] == [record_id, record_id, cluster.stream, "recording"]
        deleted = cluster.kubectl("delete", "rec", "-n", cluster.namespace, record_id,
                                  "--wait=false")
        assert deleted.returncode == 0, deleted.stderr
        wait_for(lambda: task(api, record_id) is None, 90, f"{record_id} to be gone",
                 cluster.explain)
    gone = cluster.kubectl("get", "rec", "-n", cluster.namespace, record_id)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def operator_restart(cluster: Cluster, record_id: str) -> None:
    """The operator's pod replaced mid-recording: the recording goes on (the recorder pod is not
    the operator's child process), and the new operator still stops it cleanly."""
    with cluster.api() as api:
        started = api.post(f"{APP}:startRecord", json={
            "id": record_id, "stream": {"name": cluster.stream}, "interval": 2000})
        assert started.status_code == 200, started.text
        before = wait_for(recording_with(api, record_id, lambda t: t.get("sequence", 0) >= 1),
                          90, f"{record_id} to record", cluster.explain)
        cluster.restart_operator()
        wait_for(recording_with(api, record_id,
                                lambda t: t.get("sequence", 0) > before["sequence"]),
                 60, "the recording to go on after the operator restart", cluster.explain)
        stop_and_wait_gone(cluster, api, record_id)


def schedule_split(cluster: Cluster, record_id: str) -> None:
    """A schedule split ('*/2 * *': at every even second) splits on the wall clock."""
    with cluster.api() as api:
        started = api.post(f"{APP}:startRecord", json={
            "id": record_id, "stream": {"name": cluster.stream}, "schedule": "*/2 * *"})
        assert started.status_code == 200, started.text
        wait_for(recording_with(api, record_id, lambda t: t.get("sequence", 0) >= 2),
                 90, f"{record_id} to split twice", cluster.explain)
        stop_and_wait_gone(cluster, api, record_id)


def refusals(cluster: Cluster) -> None:
    """What a misconfigured client meets: 401 without the token, 404 for an unknown app."""
    with cluster.api() as api:
        unknown = api.post("/vhosts/default/apps/nope:records", json={})
        assert unknown.status_code == 404, unknown.text
        anonymous = httpx.post(f"{api.base_url}{APP}:records", json={}, timeout=10)
        assert anonymous.status_code == 401, anonymous.text
