"""records through the chart's Service shows what was just written, whichever of the two API
replicas answers (issue "consistent records", on the real node).

Each call opens a new connection, so kube-proxy picks a replica for each: about half of the
reads go to the replica that did not make the write. The operator is scaled to zero meanwhile
(the Recordings then make no recorder pods; its return finalizes the stopped ones)."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from tests.deploy.scenarios import APP
from tests.waiting import wait_for

from .conftest import NAMESPACE, RELEASE, NodeCluster

pytestmark = [pytest.mark.e2e, pytest.mark.node, pytest.mark.timeout(900)]
#: Start pairs, then as many stop pairs (RECORDING_OPERATOR_NODE_PAIRS=1000 for the issue's count).
PAIRS = int(os.environ.get("RECORDING_OPERATOR_NODE_PAIRS", "200"))


def _ready_endpoints(cluster: NodeCluster) -> int:
    out = cluster.must("get", "endpointslices", "-n", NAMESPACE, "-l",
                       f"kubernetes.io/service-name={RELEASE}-api", "-o",
                       "jsonpath={range .items[*].endpoints[*]}{.conditions.ready}{\"\\n\"}{end}")
    return out.split().count("true")


def _scale_operator(cluster: NodeCluster, replicas: int) -> None:
    cluster.must("scale", "-n", NAMESPACE, f"deployment/{RELEASE}-operator",
                 f"--replicas={replicas}")
    if replicas:
        cluster.rollout(NAMESPACE, f"{RELEASE}-operator")
    else:
        wait_for(lambda: not cluster.must(
            "get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=operator",
            "-o", "name").strip(), 120, "the operator pod to be gone", cluster.explain)


def test_start_and_stop_pairs_through_the_service(cluster: NodeCluster) -> None:
    wait_for(lambda: _ready_endpoints(cluster) == 2, 120, "two API replicas behind the Service",
             cluster.explain)
    _scale_operator(cluster, 0)
    try:
        with cluster.api() as keepalive:
            fresh = httpx.Client(base_url=keepalive.base_url, headers=keepalive.headers,
                                 timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
        with fresh:
            def call(action: str, body: dict[str, Any]) -> httpx.Response:
                answer = fresh.post(f"{APP}:{action}", json=body)
                assert answer.status_code == 200, (action, answer.text)
                return answer

            def ids(body: dict[str, Any]) -> dict[str, str]:
                return {t["id"]: t["state"] for t in call("records", body).json()["response"]}

            missing, stale = [], []
            for n in range(PAIRS):
                record_id = f"svc-{n:03d}"
                call("startRecord", {"id": record_id, "stream": {"name": f"svc{n}"}})
                if record_id not in ids({"id": record_id} if n % 2 else {}):
                    missing.append(record_id)
            for n in range(PAIRS):
                record_id = f"svc-{n:03d}"
                call("stopRecord", {"id": record_id})
                shown = ids({"id": record_id} if n % 2 else {}).get(record_id)
                if shown is not None and shown != "stopping":
                    stale.append((record_id, shown))
    finally:
        _scale_operator(cluster, 1)
    assert not missing, f"{len(missing)} of {PAIRS} started tasks not listed: {missing[:10]}"
    assert not stale, f"{len(stale)} of {PAIRS} stopped tasks shown as before: {stale[:10]}"
    with cluster.api() as api:
        wait_for(lambda: not [t for t in api.post(f"{APP}:records", json={}).json()["response"]
                              if t["id"].startswith("svc-")], 120,
                 "the stopped tasks to be gone once the operator is back", cluster.explain)
