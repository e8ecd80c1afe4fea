"""records shows what was just written, whichever API replica answers (issue 19).

Two API processes on one control plane, as the chart runs them behind one Service. Every start
made on one must be listed by records on the other right after (on a kept-alive connection, so
the read follows the write as closely as a client can make it), and every stop must show the
task stopping or gone."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from recording_operator.local.controlplane import ControlPlane
from recording_operator.ports import free_port
from tests.api.conftest import TOKEN, basic
from tests.waiting import wait_for

pytestmark = [pytest.mark.controlplane]
PAIRS = int(os.environ.get("CONSISTENCY_PAIRS", "1000"))


class Replica:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.process, self.log = url, process, log
        self.last = ""
        self.client: httpx.Client | None = None

    def call(self, action: str, body: dict[str, Any] | None = None) -> httpx.Response:
        # a kept-alive connection: the read follows the write as closely as a client can
        if self.client is None:
            self.client = httpx.Client(base_url=self.url, headers=basic(), timeout=30)
        return self.client.post(f"/v1/vhosts/default/apps/app:{action}", json=body or {})


@pytest.fixture
def replicas(controlplane: ControlPlane, namespace: str, tmp_path: Path,
             rbac_rules: dict[str, list[dict[str, Any]]],
             recordings_served: None) -> Iterator[tuple[Replica, Replica]]:
    kubeconfig = controlplane.service_account_kubeconfig(
        namespace, "recording-operator-api", rules=rbac_rules["api"])
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"namespace": namespace, "vhosts": {"default": {"apps": {
        "app": {"source": "rtmp://127.0.0.1:1/{app}/{stream}"}}}}}))
    started: list[Replica] = []
    env = {**os.environ, "RECORDING_OPERATOR_ACCESS_TOKEN": TOKEN}
    env.pop("KUBECONFIG", None)
    try:
        for name in ("a", "b"):
            port = free_port()
            log = tmp_path / f"api-{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "recording_operator.cli.main", "api",
                     "--host=127.0.0.1", f"--port={port}", f"--config={config}",
                     f"--kubeconfig={kubeconfig}", "--log-level=warning"],
                    env=env, stdout=out, stderr=subprocess.STDOUT)
            started.append(Replica(f"http://127.0.0.1:{port}", process, log))
        for replica in started:
            def answers(replica: Replica = replica) -> bool:
                assert replica.process.poll() is None, replica.log.read_text()
                try:
                    answer = replica.call("records")
                except httpx.TransportError:
                    return False
                replica.last = f"{answer.status_code} {answer.text}"
                return answer.status_code == 200
            wait_for(answers, 120, f"API {replica.url} to answer records",
                     lambda replica=replica: replica.last + replica.log.read_text()[-3000:])  # type: ignore[misc]
        yield started[0], started[1]
    finally:
        for replica in started:
            if replica.client is not None:
                replica.client.close()
            replica.process.terminate()
            replica.process.wait(10)


def listed(replica: Replica, body: dict[str, Any]) -> list[dict[str, Any]]:
    answer = replica.call("records", body)
    assert answer.status_code == 200, answer.text
    tasks: list[dict[str, Any]] = answer.json()["response"]
    return tasks


def pairs(a: Replica, b: Replica, count: int) -> None:
    """``count`` start-on-one / records-on-the-other pairs, then as many stop pairs; the
    writer alternates, and so does the read: by id, or the whole app."""
    missing, stale = [], []
    for n in range(count):
        writer, reader = (a, b) if n % 2 == 0 else (b, a)
        record_id = f"t{n:05d}"
        started = writer.call("startRecord", {"id": record_id, "stream": {"name": f"s{n}"}})
        assert started.status_code == 200, started.text
        # by id (answered by a field-selected LIST) and the whole app (the watch cache)
        body = {"id": record_id} if n % 4 < 2 else {}
        if record_id not in {t["id"] for t in listed(reader, body)}:
            missing.append(record_id)
    for n in range(count):
        writer, reader = (b, a) if n % 2 == 0 else (a, b)
        record_id = f"t{n:05d}"
        stopped = writer.call("stopRecord", {"id": record_id})
        assert stopped.status_code == 200, stopped.text
        body = {"id": record_id} if n % 4 < 2 else {}
        shown = [t for t in listed(reader, body) if t["id"] == record_id]
        if shown and shown[0]["state"] != "stopping":
            stale.append((record_id, shown[0]["state"]))
    assert not missing, f"{len(missing)} of {count} started tasks not listed: {missing[:10]}"
    assert not stale, f"{len(stale)} of {count} stopped tasks shown as before: {stale[:10]}"


def test_forty_pairs(replicas: tuple[Replica, Replica]) -> None:
    pairs(*replicas, 40)


@pytest.mark.e2e
@pytest.mark.timeout(1800)
def test_a_thousand_pairs(replicas: tuple[Replica, Replica]) -> None:
    pairs(*replicas, PAIRS)


def record_reads(replica: Replica) -> dict[str, int]:
    """The replica's ``recording_operator_api_record_reads`` by answer."""
    assert replica.client is not None
    scrape = replica.client.get("/v1/notify/metrics").text
    return {sample.labels["answer"]: int(sample.value)
            for family in text_string_to_metric_families(scrape)
            if family.name == "recording_operator_api_record_reads"
            for sample in family.samples if sample.name.endswith("_total")}


def test_writes_of_other_resources_are_verified_past_without_a_list(
        replicas: tuple[Replica, Replica], controlplane: ControlPlane, namespace: str) -> None:
    """Any write (a Lease, an Event, here a ConfigMap) moves the version records must reach
    past every Recording event; the replica proves its cache current with the versions Table
    instead of listing the app's Recordings."""
    a, b = replicas
    assert a.call("startRecord", {"id": "t1", "stream": {"name": "s1"}}).status_code == 200
    before = record_reads(b)
    for n in range(5):
        controlplane.request("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                             {"metadata": {"name": f"elsewhere-{n}"}, "data": {"n": str(n)}})
        assert [t["id"] for t in listed(b, {})] == ["t1"]
    after = record_reads(b)
    assert after.get("verified", 0) - before.get("verified", 0) >= 5, (before, after)
    assert after.get("list", 0) == before.get("list", 0), "no read fell back to a LIST"
