"""Helpers shared by the API tests: the API as a separate process (as the chart runs it), its
configuration file, the seed's example bodies, the OME response envelope every answer must keep,
and each media server's publish notification body (also sent by the end-to-end tests)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from recording_operator.api.settings import TOKEN_ENV
from recording_operator.ports import free_port
from tests.waiting import wait_for

from .conftest import config_for

#: The seed's examples of request bodies, byte for byte.
SEED_SINGLE_FILE = b"""{
    "id": "{unique_record_id}",
    "stream": {
        "name": "{output_stream_name}",
        "variantNames": []
    }
}"""

SEED_INTERVAL = b"""{
  "id": "{unique_record_id}",
  "stream": {
    "name": "{output_stream_name}"
  },
  "interval": 60000,
  "segmentationRule": "discontinuity"
}"""

# As printed in the seed: no comma after the schedule line, so not JSON.
SEED_SCHEDULE = b"""{
  "id": "{unique_record_id}",
  "stream": {
    "name": "{output_stream_name}"
  },
  "schedule" : "0 */1 *"
  "segmentationRule": "continuity"
}"""

SEED_STOP = b"""{
    "id": "{unique_record_id}"
}"""

ERROR_MESSAGE = re.compile(r"^\[HTTP\] .* \((\d{3})\)$", re.DOTALL)


def check_envelope(status: int, body: Any) -> None:
    """The OME envelope: ``statusCode`` equals the HTTP status, the message names it."""
    assert status < 500, body
    assert isinstance(body, dict)
    assert body["statusCode"] == status
    if status == 200:
        assert body["message"] == "OK"
        assert "response" in body
    else:
        match = ERROR_MESSAGE.match(body["message"])
        assert match and int(match.group(1)) == status, body
        assert "response" not in body


COMMAND = [sys.executable, "-m", "recording_operator.cli.main", "api"]


class Process:
    """``recording-operator api`` on a free loopback port, output captured."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.popen = subprocess.Popen(
            [*COMMAND, "--host", "127.0.0.1", "--port", str(self.port), *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def wait_ready(self) -> None:
        def up() -> bool:
            assert self.popen.poll() is None, self.popen.communicate()[0]
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 30, "the API process to serve")

    def stop(self) -> str:
        """SIGTERM, as the kubelet sends; uvicorn shuts down gracefully, then re-raises the
        signal, so the exit status is -SIGTERM."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        output, _ = self.popen.communicate(timeout=15)
        assert self.popen.returncode in (0, -signal.SIGTERM), output
        assert "Finished server process" in output, output
        return output


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, "KUBECONFIG")}
    return env


def write_config(tmp_path: Path, namespace: str, **top: Any) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_for(namespace, **top)))
    return path


def nginx_form(call: str, app: str, name: str) -> bytes:
    """What Debian's nginx + libnginx-mod-rtmp posts for an ffmpeg publish to
    rtmp://host/<app>/<name>?k=v (see shared/reference/media-server-notifications.md)."""
    kind = "&type=live" if call == "publish" else ""
    return (f"app={app}&flashver=FMLE/3.0%20(compatible%3B%20FMSc/1.0)&swfurl="
            f"&tcurl=rtmp://127.0.0.1:19350/{app}&pageurl=&addr=127.0.0.1&clientid=1"
            f"&call={call}&name={name}{kind}&k=v").encode()


def ome_webhook(status: str, app: str, stream: str, direction: str = "incoming") -> bytes:
    """OvenMediaEngine's AdmissionWebhooks request (``opening``/``closing``)."""
    return json.dumps({
        "client": {"address": "211.233.58.86", "port": 29291, "real_ip": "211.233.58.86"},
        "request": {"direction": direction, "protocol": "rtmp", "status": status,
                    "url": f"rtmp://192.168.0.1:1935/{app}/{stream}?customKey=CustomValue",
                    "time": "2026-11-30T12:00:00.000Z"},
    }).encode()


def srs_hook(action: str, app: str, stream: str) -> bytes:
    """An SRS HTTP callback (``on_publish``/``on_unpublish``)."""
    return json.dumps({
        "server_id": "vid-0xk989d", "service_id": "plw5p6j7", "action": action,
        "client_id": "341w361a", "ip": "127.0.0.1", "vhost": "__defaultVhost__", "app": app,
        "tcUrl": f"rtmp://127.0.0.1:1935/{app}?vhost=__defaultVhost__", "stream": stream,
        "param": "", "stream_url": f"/{app}/{stream}", "stream_id": "vid-124q9y3",
    }).encode()


def plain(event: str, app: str, stream: str) -> bytes:
    """The plain dialect's JSON body."""
    return json.dumps({"event": event, "app": app, "stream": stream}).encode()
