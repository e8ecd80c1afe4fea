"""A recorder pod under the chart's default requests and limits on a real node: a 720p30
stream recorded for LIMITS_SECONDS (45 in `make test`; 300 for the figures in
docs/benchmarks.md), its pod's cgroup sampled every second. The figures are printed (and
written as JSON to $RECORDING_OPERATOR_NODE_LIMITS_REPORT when set); the test asserts what a user
would notice: the limit is enforced, the recorder is never OOM-killed and its file plays."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.scenarios import APP, recording_with, stop_and_wait_gone
from tests.waiting import wait_for

from .conftest import LIMITS_SECONDS, NodeCluster

pytestmark = [pytest.mark.e2e, pytest.mark.node, pytest.mark.timeout(900 + LIMITS_SECONDS)]
HERE = Path(__file__).parent
CGROUP = Path("/sys/fs/cgroup")
MiB = 1024 * 1024


def pod_cgroup(controller: str, uid: str) -> Path:
    """The pod's cgroup (v1, the kubelet's cgroupfs driver): kubepods/<qos>/pod<uid>."""
    found = list((CGROUP / controller / "kubepods").glob(f"**/pod{uid}"))
    assert len(found) == 1, found
    return found[0]


def stat(directory: Path) -> dict[str, int]:
    lines = (directory / "memory.stat").read_text().splitlines()
    return {k: int(v) for k, v in (line.split() for line in lines)}


def read_int(path: Path) -> int:
    return int(path.read_text().split()[0])


def oom_kills(memory: Path) -> int:
    for line in (memory / "memory.oom_control").read_text().splitlines():
        key, value = line.split()
        if key == "oom_kill":
            return int(value)
    return 0


def chart_recorder_resources() -> dict[str, Any]:
    values = yaml.safe_load((HERE.parents[1] / "charts" / "recording-operator" /
                             "values.yaml").read_text())
    resources: dict[str, Any] = values["recorder"]["resources"]
    return resources


def test_recorder_pod_within_its_limits_on_a_720p30_stream(cluster: NodeCluster) -> None:
    applied = cluster.kubectl("apply", "-n", "media", "-f", str(HERE / "publisher-720p.yaml"))
    assert applied.returncode == 0, applied.stderr
    cluster.rollout("media", "publisher-hd")
    with cluster.api() as api:
        started = api.post(f"{APP}:startRecord", json={"id": "node-limits",
                                                      "stream": {"name": "hd"}})
        assert started.status_code == 200, started.text
        wait_for(recording_with(api, "node-limits", lambda t: t.get("totalRecordBytes", 0) > 0),
                 120, "the 720p30 recording to start", cluster.explain)
        pod = wait_for(cluster.running_recorder, 30, "the recorder pod", cluster.explain)
        uid = pod["metadata"]["uid"]
        memory, cpu = pod_cgroup("memory", uid), pod_cgroup("cpuacct", uid)
        limit = read_int(memory / "memory.limit_in_bytes")
        expected = chart_recorder_resources()["limits"]["memory"]
        assert limit == int(expected.removesuffix("Mi")) * MiB, (limit, expected)

        samples: list[tuple[float, int, int, int]] = []  # time, working set, rss, cpu ns
        began = time.monotonic()
        while time.monotonic() - began < LIMITS_SECONDS:
            figures = stat(memory)
            usage = read_int(memory / "memory.usage_in_bytes")
            samples.append((time.monotonic(), usage - figures["total_inactive_file"],
                            figures["total_rss"], read_int(cpu / "cpuacct.usage")))
            time.sleep(1)
        peak_usage = read_int(memory / "memory.max_usage_in_bytes")
        kills = oom_kills(memory)
        stop_and_wait_gone(cluster, api, "node-limits")
    cluster.kubectl("delete", "-n", "media", "deployment/publisher-hd", "--wait=false")

    seconds = samples[-1][0] - samples[0][0]
    cores = [(b[3] - a[3]) / 1e9 / (b[0] - a[0]) for a, b in itertools.pairwise(samples)]
    window = 5
    windows = [sum(cores[i:i + window]) / window for i in range(max(1, len(cores) - window + 1))]
    report = {
        "seconds": round(seconds),
        "stream": "720p30 H.264 3 Mb/s + AAC 128 kb/s",
        "requests": chart_recorder_resources()["requests"],
        "limits": chart_recorder_resources()["limits"],
        "peak_working_set_mib": round(max(s[1] for s in samples) / MiB, 1),
        "peak_rss_mib": round(max(s[2] for s in samples) / MiB, 1),
        "peak_usage_with_page_cache_mib": round(peak_usage / MiB, 1),
        "cpu_cores_mean": round((samples[-1][3] - samples[0][3]) / 1e9 / seconds, 3),
        "cpu_cores_peak_5s": round(max(windows), 3),
        "oom_kills": kills,
    }
    print(f"\nrecorder pod on a real node: {json.dumps(report)}")
    if os.environ.get("RECORDING_OPERATOR_NODE_LIMITS_REPORT"):
        Path(os.environ["RECORDING_OPERATOR_NODE_LIMITS_REPORT"]).write_text(
            json.dumps(report, indent=2) + "\n")
    assert kills == 0, report
    assert report["peak_working_set_mib"] * MiB < limit, report
    media = sorted(n for n in cluster.files() if "_hd_" in n and n.endswith(".ts"))
    assert media, sorted(cluster.files())
    assert "h264" in cluster.probe(media[-1]).split()
