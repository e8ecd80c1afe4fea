"""``recording-operator dev`` looks after its own processes, as a cluster would (issue 18).

One ``dev`` (as a user runs it, a process of its own) records the demo stream while each part
of the stack is killed in turn with SIGKILL: each comes back, the recording goes on, and a stop
completes. Then ``dev`` itself is SIGKILLed: nothing of the stack (recorder pods included) is
left after a few seconds, and a new ``dev`` on the same data directory starts and stops
cleanly."""

from __future__ import annotations

import base64
import functools
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recording_operator.local.leftovers import command_line, marked
from recording_operator.ports import free_port
from tests.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
TOKEN = "e2e-supervision-token"


class Dev:
    """One ``recording-operator dev`` process and a client for its API."""

    def __init__(self, data: Path, port: int, rtmp_port: int, out: Path) -> None:
        self.data, self.out = data, out
        self.url = f"http://127.0.0.1:{port}/v1/vhosts/default/apps/app"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("KUBECONFIG", None)
        with out.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "recording_operator.cli.main", "dev",
                 f"--data-dir={data}", f"--port={port}", f"--rtmp-port={rtmp_port}",
                 f"--access-token={TOKEN}"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.auth = {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode()}

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def call(self, action: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(f"{self.url}:{action}", json=body or {}, headers=self.auth, timeout=10)

    def up(self) -> bool:
        assert self.process.poll() is None, self.output()[-4000:]
        try:
            return self.call("records").status_code == 200
        except httpx.TransportError:
            return False

    def task(self, record_id: str) -> dict[str, Any] | None:
        try:
            answer = self.call("records", {"id": record_id})
        except httpx.TransportError:
            return None
        if answer.status_code != 200:
            return None
        tasks: list[dict[str, Any]] = answer.json()["response"]
        return tasks[0] if tasks else None


@pytest.fixture
def dev_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    leftovers = marked(data)
    for pid in leftovers:  # a failed test must not leave the stack running
        os.kill(pid, signal.SIGKILL)


def recorded(dev: Dev, record_id: str) -> int:
    task = dev.task(record_id) or {}
    return int(task.get("totalRecordBytes") or 0) + int(task.get("recordBytes") or 0)


def grows(dev: Dev, record_id: str, what: str) -> None:
    before = recorded(dev, record_id)
    wait_for(lambda: recorded(dev, record_id) > before, 60,
             f"the recording to go on after {what}", dev.output)


def find(data: Path, matches: Callable[[str], bool]) -> int | None:
    found = [pid for pid in marked(data) if matches(command_line(pid))]
    return found[0] if found else None


def replaced(data: Path, matches: Callable[[str], bool], pid: int) -> Callable[[], bool]:
    """A condition: the part that ran as ``pid`` runs again as another process."""
    return lambda: (find(data, matches) or pid) != pid


PARTS: dict[str, Callable[[str], bool]] = {
    "operator": lambda cmd: " run " in f" {cmd} " and "--config=" in cmd,
    "api": lambda cmd: " api " in f" {cmd} " and "--port=" in cmd,
    "media server": lambda cmd: "nginx" in cmd.split(" ", 1)[0],
    "kube-apiserver": lambda cmd: "kube-apiserver" in cmd.split(" ", 1)[0],
    "etcd": lambda cmd: cmd.split(" ", 1)[0].endswith("/etcd"),
}


def test_every_part_comes_back_and_nothing_outlives_dev(dev_dir: Path, tmp_path: Path) -> None:
    port, rtmp = free_port(), free_port()
    dev = Dev(dev_dir, port, rtmp, tmp_path / "dev.out")
    wait_for(dev.up, 300, "dev to serve the API", dev.output, interval=0.5)
    answer = dev.call("startRecord", {"id": "kept", "stream": {"name": "stream"},
                                      "interval": 4000})
    assert answer.status_code == 200, answer.text
    wait_for(lambda: recorded(dev, "kept") > 0, 60, "the recording to start", dev.output)

    for part, matches in PARTS.items():
        pid = wait_for(functools.partial(find, dev_dir, matches), 30, f"the {part}")
        os.kill(pid, signal.SIGKILL)
        wait_for(replaced(dev_dir, matches, pid), 60, f"a new {part}", dev.output)
        wait_for(dev.up, 60, f"the API after the {part} was killed", dev.output)
        grows(dev, "kept", f"the {part} was killed")
        assert f"{part} exited (killed by SIGKILL)" in dev.output()

    status = [line for line in dev.output().splitlines() if line.startswith("==> status:")]
    assert status, dev.output()[-3000:]
    for part in PARTS:
        assert re.search(rf"{part}: up \(\d+ restarts?\)", status[-1]), status[-1]
    stopped = dev.call("stopRecord", {"id": "kept"})
    assert stopped.status_code == 200, stopped.text
    wait_for(lambda: dev.task("kept") is None, 60, "the stop to complete", dev.output)

    # a recording runs (its recorder pod is a process of the stack) when dev is SIGKILLed
    assert dev.call("startRecord", {"id": "cut", "stream": {"name": "stream"}}).status_code == 200
    wait_for(lambda: recorded(dev, "cut") > 0, 60, "the second recording", dev.output)
    assert find(dev_dir, lambda cmd: " record" in cmd), "a recorder process runs"
    dev.process.kill()
    dev.process.wait()
    wait_for(lambda: not marked(dev_dir), 15, "every process of the stack to end",
             lambda: "\n".join(command_line(p) for p in marked(dev_dir)))

    again = Dev(dev_dir, port, rtmp, tmp_path / "dev2.out")
    wait_for(again.up, 120, "a new dev on the same data directory", again.output,
             interval=0.5)
    again.process.send_signal(signal.SIGINT)
    assert again.process.wait(90) == 0, again.output()[-3000:]
    assert "stopped." in again.output()
    assert not marked(dev_dir)
