"""``recording-operator api`` as an operator would run it: flags, a token file or variable, a
config file, a kubeconfig; refusing to start without a token or with a bad config."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from recording_operator.api.settings import TOKEN_ENV
from recording_operator.ports import free_port

from .conftest import TOKEN, basic
from .support import COMMAND, Process, base_env, write_config

pytestmark = pytest.mark.controlplane

def test_serves_with_a_token_file_config_and_kubeconfig(
    tmp_path: Path, namespace: str, api_kubeconfig: Path, recordings_served: None,
    processes: list[Process],
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    env = {**base_env(), TOKEN_ENV: "not-this-one"}
    process = Process(["--config", str(write_config(tmp_path, namespace)),
                       "--access-token-file", str(token_file),
                       "--kubeconfig", str(api_kubeconfig)], env)
    processes.append(process)
    process.wait_ready()
    with httpx.Client(base_url=process.url, headers=basic()) as client:
        started = client.post("/v1/vhosts/live/apps/app:startRecord",
                              json={"id": "cli", "stream": {"name": "s"}})
        assert started.status_code == 200, started.text
        listed = client.post("/v1/vhosts/live/apps/app:records").json()["response"]
        assert [t["id"] for t in listed] == ["cli"]
        wrong = client.post("/v1/vhosts/live/apps/app:records",
                            headers={"Authorization": basic("not-this-one")["Authorization"]})
        assert wrong.status_code == 401
    assert TOKEN not in process.stop()


def test_token_from_the_environment_and_a_prefix(
    tmp_path: Path, namespace: str, api_kubeconfig: Path, recordings_served: None,
    processes: list[Process],
) -> None:
    env = {**base_env(), TOKEN_ENV: TOKEN, "KUBECONFIG": str(api_kubeconfig)}
    process = Process(["--config", str(write_config(tmp_path, namespace)), "--prefix", "/api/v1"],
                      env)
    processes.append(process)
    process.wait_ready()
    answer = httpx.post(f"{process.url}/api/v1/vhosts/default/apps/app:records", headers=basic())
    assert answer.json() == {"statusCode": 200, "message": "OK", "response": []}
    process.stop()


def test_kube_url_flag(tmp_path: Path, namespace: str, processes: list[Process]) -> None:
    closed = free_port()
    env = {**base_env(), TOKEN_ENV: TOKEN}
    process = Process(["--config", str(write_config(tmp_path, namespace)),
                       "--kube-url", f"http://127.0.0.1:{closed}"], env)
    processes.append(process)
    process.wait_ready()
    answer = httpx.post(f"{process.url}/v1/vhosts/default/apps/app:records", headers=basic())
    assert answer.status_code == 503
    assert f"127.0.0.1:{closed}" in answer.json()["message"]
    process.stop()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("empty-file", "the access token is empty"),
        ("empty-env", "no access token: set $RECORDING_OPERATOR_ACCESS_TOKEN or pass "
                      "--access-token-file"),
        ("bad-config", "vhosts.default.apps.app.source: Field required"),
    ],
)
def test_refuses_to_start(tmp_path: Path, setup: str, message: str) -> None:
    env = {**base_env(), TOKEN_ENV: TOKEN}
    args: list[str] = []
    if setup == "empty-file":
        (tmp_path / "token").write_text("\n")
        args = ["--access-token-file", str(tmp_path / "token")]
    elif setup == "empty-env":
        env[TOKEN_ENV] = ""
    else:
        (tmp_path / "c.yaml").write_text("vhosts: {default: {apps: {app: {}}}}\n")
        args = ["--config", str(tmp_path / "c.yaml")]
    started = time.monotonic()
    result = subprocess.run([*COMMAND, "--port", str(free_port()), *args], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30
