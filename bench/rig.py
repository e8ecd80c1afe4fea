"""The scale rig: the local control plane, the operator and the API, with no pod runner.

Recorder pods are created but never run (no kubelet, no scheduler: they stay Pending), so the
figures measure the control plane's side alone: the API turning startRecord into Recordings,
the operator turning Recordings into pods. The operator and the API run as deployed: their own
processes (``recording-operator run`` / ``api``), each under its own ServiceAccount bound to
the chart's rules.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from recording_operator.api.settings import TOKEN_ENV
from recording_operator.local.controlplane import AdminError, ControlPlane
from recording_operator.ports import free_port

from .common import rbac_rules, wait_for

TOKEN = secrets.token_urlsafe(24)
APP_PATH = "/v1/vhosts/default/apps/app"


def _command() -> list[str]:
    script = Path(sys.executable).parent / "recording-operator"
    return [str(script)] if script.is_file() else [sys.executable, "-m",
                                                   "recording_operator.cli.main"]


def auth_header() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode()}


def http_client(url: str) -> httpx.Client:
    # TCP_NODELAY: otherwise delayed ACKs, not the API, dominate small-request latencies
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(base_url=url, transport=transport, headers=auth_header(), timeout=60)


class Rig:
    """Start with :meth:`start`, end with :meth:`stop` (or use ``with``)."""

    def __init__(self, workdir: Path, namespace: str = "bench",
                 operator_args: Sequence[str] = ()) -> None:
        self.workdir = workdir
        self.namespace = namespace
        self.operator_args = list(operator_args)
        self.plane: ControlPlane | None = None
        self.operator: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.api_url = ""

    def __enter__(self) -> Rig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Rig:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        plane = self.plane = ControlPlane.start(self.workdir / "controlplane")
        plane.apply_crds()
        ns = self.namespace
        plane.create_namespace(ns)
        config = {
            "namespace": ns,
            "vhosts": {"default": {"apps": {
                "app": {"source": "rtmp://127.0.0.1:1/{app}/{stream}"},
                "canary": {"source": "rtmp://127.0.0.1:1/{app}/{stream}"},
            }}},
        }
        config_path = self.workdir / "config.yaml"
        config_path.write_text(yaml.safe_dump(config))
        rules = rbac_rules()
        # the pods' ServiceAccount must exist, or admission refuses the pods
        plane.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": "recording-operator-recorder", "namespace": ns}})
        operator_kc = plane.service_account_kubeconfig(ns, "bench-operator", rules["operator"])
        api_kc = plane.service_account_kubeconfig(ns, "bench-api", rules["api"])
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        self.operator = _spawn(logs / "operator.log", [
            *_command(), "run", f"--config={config_path}", f"--kubeconfig={operator_kc}",
            f"--namespace={ns}", "--bind-address=127.0.0.1", "--liveness-port=0",
            "--metrics-port=0", *self.operator_args])
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        self.api = _spawn(logs / "api.log", [
            *_command(), "api", "--host=127.0.0.1", f"--port={port}",
            f"--config={config_path}", f"--kubeconfig={api_kc}", "--log-level=warning"],
            {TOKEN_ENV: TOKEN})
        self._wait_ready()

    def _wait_ready(self) -> None:
        """The API answers, and the operator has made the pod of a canary Recording (its
        watches are running): so the figures do not include start-up."""
        def api_up() -> bool:
            self._check_alive()
            try:
                return httpx.post(f"{self.api_url}/v1/vhosts/default/apps/canary:records",
                                  headers=auth_header(), timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(api_up, 60, "the API", 0.1)
        with http_client(self.api_url) as client:
            answer = client.post("/v1/vhosts/default/apps/canary:startRecord",
                                 json={"id": "canary", "stream": {"name": "canary"}})
            answer.raise_for_status()

        def canary_pod() -> bool:
            self._check_alive()
            return self.pod_count() >= 1

        wait_for(canary_pod, 60, "the operator to make the canary's pod", 0.1)

    def _check_alive(self) -> None:
        for name, process in (("operator", self.operator), ("api", self.api)):
            if process is not None and process.poll() is not None:
                log = (self.workdir / "logs" / f"{name}.log").read_text(errors="replace")
                raise RuntimeError(f"the {name} exited ({process.returncode}):\n{log[-3000:]}")

    @property
    def operator_pid(self) -> int:
        assert self.operator is not None
        return self.operator.pid

    @property
    def api_pid(self) -> int:
        assert self.api is not None
        return self.api.pid

    def pod_count(self) -> int:
        """Pods in the namespace (the canary's included), from one cheap paginated LIST."""
        assert self.plane is not None
        try:
            answer = self.plane.request("GET", f"/api/v1/namespaces/{self.namespace}/pods?limit=1")
        except AdminError as exc:
            if exc.status == 429:
                return 0
            raise
        items = len(answer.get("items") or [])
        remaining = int((answer.get("metadata") or {}).get("remainingItemCount") or 0)
        return items + remaining

    def recording_count(self) -> int:
        assert self.plane is not None
        answer = self.plane.request(
            "GET", f"/apis/recording-operator.dev/v1alpha1/namespaces/{self.namespace}"
            "/recordings?limit=1")
        items = len(answer.get("items") or [])
        return items + int((answer.get("metadata") or {}).get("remainingItemCount") or 0)

    def stop(self) -> None:
        for process in (self.api, self.operator):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.api = self.operator = None
        if self.plane is not None:
            self.plane.stop()
            self.plane = None


def _spawn(log: Path, argv: list[str], env: dict[str, str] | None = None
           ) -> subprocess.Popen[bytes]:
    child_env = {**os.environ, **(env or {})}
    child_env.pop("KUBECONFIG", None)
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=child_env)


async def _create_all(url: str, ids: Sequence[str], concurrency: int) -> list[float]:
    """startRecord for every id, ``concurrency`` at a time; each call's latency (s)."""
    latencies: list[float] = []
    queue = list(reversed(ids))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=auth_header(), timeout=60,
                                 limits=limits) as client:
        async def worker() -> None:
            while queue:
                record_id = queue.pop()
                body: dict[str, Any] = {"id": record_id, "stream": {"name": record_id}}
                for _attempt in range(5):
                    started = time.perf_counter()
                    answer = await client.post(f"{APP_PATH}:startRecord", json=body)
                    if answer.status_code == 200:
                        latencies.append(time.perf_counter() - started)
                        break
                    if answer.status_code != 503:
                        raise RuntimeError(f"startRecord {record_id}: {answer.status_code} "
                                           f"{answer.text}")
                    await asyncio.sleep(0.2)  # the API server's flow control; try again
                else:
                    raise RuntimeError(f"startRecord {record_id} kept failing: {answer.text}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def start_records(url: str, ids: Sequence[str], concurrency: int = 8) -> list[float]:
    return asyncio.run(_create_all(url, ids, concurrency))


def time_records(client: httpx.Client, samples: int, expected: int, blocks: int = 1
                 ) -> list[float]:
    """Latencies (ms) of ``samples`` records calls listing the app's ``expected`` tasks, in
    ``blocks`` spread over a few seconds (a burst of other work on a shared machine then
    disturbs a few blocks, not the percentile)."""
    out = []
    for n in range(samples):
        if n and blocks > 1 and n % max(1, samples // blocks) == 0:
            time.sleep(0.5)
        started = time.perf_counter()
        answer = client.post(f"{APP_PATH}:records", json={})
        out.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"records: {answer.status_code} {answer.text}")
    count = len(client.post(f"{APP_PATH}:records", json={}).json()["response"])
    if count != expected:
        raise RuntimeError(f"records listed {count} tasks, expected {expected}")
    return out
