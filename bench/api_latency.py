"""API latency: startRecord and records p50/p99 with 1, 100 and 1,000 tasks in an app.

Runs the real API (``recording-operator api``, its own process, under its own ServiceAccount
and the chart's ``api`` rules) against the local control plane and times real HTTP calls.
Goals for later tuning: startRecord p99 < 50 ms; records over 1,000 tasks p99 < 100 ms.

    python bench/api_latency.py             # 1, 100, 1000 tasks
    python bench/api_latency.py --tiny      # a few seconds, for make test
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from recording_operator.api.settings import TOKEN_ENV
from recording_operator.local.controlplane import ControlPlane
from recording_operator.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
RBAC_FILE = ROOT / "charts" / "recording-operator" / "files" / "rbac.yaml"
TOKEN = secrets.token_urlsafe(24)
APP_PATH = "/v1/vhosts/default/apps/app"
GOALS_MS = {"startRecord": 50.0, "records": 100.0}


@dataclass
class Row:
    tasks: int
    start_p50: float
    start_p99: float
    records_p50: float
    records_p99: float


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: with few samples p99 is the worst one)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _wait_served(plane: ControlPlane, deadline: float = 30) -> None:
    from recording_operator.local.controlplane import AdminError

    end = time.monotonic() + deadline
    while True:
        try:
            plane.request("GET", "/apis/recording-operator.dev/v1alpha1/recordings?limit=1")
            return
        except AdminError as exc:
            if exc.status != 429 or time.monotonic() > end:
                raise
            time.sleep(0.1)


@contextmanager
def api_process(plane: ControlPlane, namespace: str, workdir: Path) -> Iterator[str]:
    """The API as deployed: its own process, ServiceAccount and Role."""
    rules = yaml.safe_load(RBAC_FILE.read_text())["api"]
    kubeconfig = plane.service_account_kubeconfig(namespace, "bench-api", rules=rules)
    config = workdir / "bench-config.yaml"
    config.write_text(yaml.safe_dump({
        "namespace": namespace,
        "vhosts": {"default": {"apps": {"app": {"source": "rtmp://127.0.0.1/{app}/{stream}"}}}},
    }))
    port = free_port()
    env = {**os.environ, TOKEN_ENV: TOKEN}
    env.pop("KUBECONFIG", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "recording_operator.cli.main", "api", "--host", "127.0.0.1",
         "--port", str(port), "--config", str(config), "--kubeconfig", str(kubeconfig),
         "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # generous: `make test` runs every benchmark at once, each with its own control plane
        end = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("the API did not start within 120 s")
            time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _client(url: str) -> httpx.Client:
    auth = base64.b64encode(TOKEN.encode()).decode()
    # TCP_NODELAY on both ends; otherwise delayed ACKs, not the API, dominate the figures
    transport = httpx.HTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    return httpx.Client(base_url=url, transport=transport,
                        headers={"Authorization": f"Basic {auth}"}, timeout=30)


def _call(client: httpx.Client, action: str, body: dict[str, object] | None = None) -> float:
    started = time.perf_counter()
    answer = client.post(f"{APP_PATH}:{action}", json=body or {})
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{action}: {answer.status_code} {answer.text}")
    return elapsed


def measure(plane: ControlPlane, levels: Sequence[int], samples: int, workdir: Path) -> list[Row]:
    """Fills the app up to each level, then times ``samples`` startRecords (each undone by a
    stopRecord, so the level holds) and ``samples`` records."""
    _wait_served(plane)
    namespace = f"bench-{secrets.token_hex(3)}"
    plane.create_namespace(namespace)
    rows = []
    try:
        with api_process(plane, namespace, workdir) as url, _client(url) as client:
            for _ in range(3):  # warm up connections and the API server's caches
                _call(client, "records")
            filled = 0
            for level in levels:
                while filled < level:
                    _call(client, "startRecord", {"id": f"task-{filled:05d}",
                                                  "stream": {"name": f"s{filled}"}})
                    filled += 1
                starts = []
                for n in range(samples):
                    record_id = f"probe-{n:04d}"
                    starts.append(_call(client, "startRecord",
                                        {"id": record_id, "stream": {"name": "probe"}}))
                    _call(client, "stopRecord", {"id": record_id})
                listing = []
                for _ in range(samples):
                    listing.append(_call(client, "records"))
                count = len(client.post(f"{APP_PATH}:records").json()["response"])
                if count != level:
                    raise RuntimeError(f"records listed {count} tasks, expected {level}")
                rows.append(Row(level, percentile(starts, 0.5), percentile(starts, 0.99),
                                percentile(listing, 0.5), percentile(listing, 0.99)))
    finally:
        plane.delete_namespace(namespace)
    return rows


def table(rows: Sequence[Row], samples: int) -> str:
    lines = [
        f"API latency over HTTP, {samples} samples each (ms; goals: startRecord p99 < "
        f"{GOALS_MS['startRecord']:.0f}, records p99 < {GOALS_MS['records']:.0f})",
        f"{'tasks':>6}  {'startRecord p50':>15}  {'p99':>7}  {'records p50':>11}  {'p99':>7}",
    ]
    for row in rows:
        lines.append(f"{row.tasks:>6}  {row.start_p50:>15.1f}  {row.start_p99:>7.1f}  "
                     f"{row.records_p50:>11.1f}  {row.records_p99:>7.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="1 and 10 tasks, 10 samples")
    parser.add_argument("--levels", default="1,100,1000", help="task counts (comma-separated)")
    parser.add_argument("--samples", type=int, default=200, help="timed calls per figure")
    args = parser.parse_args(argv)
    levels = [1, 10] if args.tiny else [int(x) for x in args.levels.split(",")]
    samples = 10 if args.tiny else args.samples
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        plane = ControlPlane.start(Path(tmp) / "controlplane")
        try:
            plane.apply_crds()
            rows = measure(plane, sorted(levels), samples, Path(tmp))
        finally:
            plane.stop()
    print(table(rows, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
