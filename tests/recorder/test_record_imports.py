"""A recorder pod loads what recording needs: no Kubernetes client library, and no pydantic
(the operator validated the Recording; its models would cost the pod about 15 MiB).

The whole ``record`` command runs in a fresh interpreter, reporting on, against a stand-in API
server (the status calls are the same whatever answers them); afterwards the interpreter lists
every module it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from .harness import job

#: Loaded by a full Kubernetes client (and its HTTP stack) or the operator's models, never by
#: a recorder.
NOT_IN_A_RECORDER = ("kubernetes_asyncio", "aiohttp", "asyncio", "kopf", "fastapi", "uvicorn",
                     "httpx", "urllib3", "pydantic", "pydantic_core")

SHOW_MODULES = (
    "import json, sys\n"
    "from recording_operator.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
)


class _Api(BaseHTTPRequestHandler):
    patches: list[dict[str, Any]] = []

    def _reply(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._reply({"kind": "Recording", "metadata": {"name": "rec"}, "status": {}})

    def do_PATCH(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.patches.append(json.loads(self.rfile.read(length)))
        self._reply({})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Path, type[_Api]]]:
    handler = type("Api", (_Api,), {"patches": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {
            "server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "users": [{"name": "u", "user": {"token": "recorder-token"}}],
    }))
    yield kubeconfig, handler
    server.shutdown()
    server.server_close()


def test_the_record_command_reports_without_a_kubernetes_client_library_or_pydantic(
    tmp_path: Path, api: tuple[Path, type[_Api]],
) -> None:
    kubeconfig, handler = api
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(job("s", "rtmp://127.0.0.1:1/app/s")))
    result = subprocess.run(
        [sys.executable, "-c", SHOW_MODULES, "record", "--spec-file", str(spec),
         "--kubeconfig", str(kubeconfig), "--storage-root", str(tmp_path / "missing")],
        capture_output=True, text=True, timeout=60, check=False)
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["code"] == 1, result.stderr  # the storage root is missing: an error, reported
    reported = [p["status"]["recorder"]["state"] for p in handler.patches]
    assert reported[-1] == "error", (reported, result.stderr)
    modules = set(shown["modules"])
    assert "recording_operator.recorder.reporter" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in NOT_IN_A_RECORDER)
    assert loaded == [], f"a recorder loaded {loaded}"
