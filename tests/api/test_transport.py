"""Transport and secrets of ``recording-operator api``: HTTPS from a certificate and key (as the
chart mounts them from a Secret), a minimum token length outside the embedded mode, and the
OpenAPI document behind the token unless a flag makes it public."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from recording_operator.api.settings import TOKEN_ENV
from recording_operator.local.pki import LocalPKI
from recording_operator.ports import free_port
from tests.waiting import wait_for

from .conftest import TOKEN, ApiFactory, basic
from .support import COMMAND, Process, base_env, write_config

pytestmark = pytest.mark.controlplane


def _refused(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([*COMMAND, "--port", str(free_port()), *args], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_serves_https_with_the_given_certificate(
    tmp_path: Path, namespace: str, processes: list[Process],
) -> None:
    pki = LocalPKI(tmp_path / "pki")
    serving = pki.serving("api", ["127.0.0.1", "localhost"])
    env = {**base_env(), TOKEN_ENV: TOKEN}
    closed = free_port()
    process = Process(["--config", str(write_config(tmp_path, namespace)),
                       "--kube-url", f"http://127.0.0.1:{closed}",
                       "--tls-cert-file", str(serving.cert),
                       "--tls-key-file", str(serving.key)], env)
    processes.append(process)
    url = f"https://127.0.0.1:{process.port}"

    def up() -> bool:
        assert process.popen.poll() is None, process.popen.communicate()[0]
        try:
            return httpx.get(f"{url}/healthz", verify=str(pki.ca_cert), timeout=2).is_success
        except httpx.TransportError:
            return False

    wait_for(up, 30, "the API to serve HTTPS")
    # the certificate is the one given: verified against its CA
    answer = httpx.post(f"{url}/v1/vhosts/default/apps/app:records", headers=basic(),
                        verify=str(pki.ca_cert))
    assert answer.status_code == 503  # authorised; Kubernetes is away on purpose
    # no plain HTTP on the TLS port
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{process.port}/healthz", timeout=5)
    process.stop()


def test_refuses_half_a_tls_pair_or_a_mismatched_one(tmp_path: Path) -> None:
    one = LocalPKI(tmp_path / "one").serving("api", ["127.0.0.1"])
    other = LocalPKI(tmp_path / "other").serving("api", ["127.0.0.1"])
    env = {**base_env(), TOKEN_ENV: TOKEN}
    assert "go together: give both" in _refused(["--tls-cert-file", str(one.cert)], env)
    assert "do not load as a pair" in _refused(
        ["--tls-cert-file", str(one.cert), "--tls-key-file", str(other.key)], env)
    assert "cannot read the TLS certificate or key" in _refused(
        ["--tls-cert-file", str(tmp_path / "absent.crt"), "--tls-key-file", str(one.key)], env)


def test_a_short_token_is_refused_unless_the_embedded_mode_allows_it(
    tmp_path: Path, namespace: str, processes: list[Process],
) -> None:
    env = {**base_env(), TOKEN_ENV: "short-token"}
    message = _refused([], env)
    assert "the access token is 11 bytes long; at least 16 are required" in message
    process = Process(["--config", str(write_config(tmp_path, namespace)),
                       "--kube-url", f"http://127.0.0.1:{free_port()}",
                       "--allow-short-token"], env)
    processes.append(process)
    process.wait_ready()
    answer = httpx.post(f"{process.url}/v1/vhosts/default/apps/app:records",
                        headers=basic("short-token"))
    assert answer.status_code == 503  # past the token check
    process.stop()


def test_openapi_needs_the_token_unless_made_public(make_api: ApiFactory) -> None:
    closed = make_api()
    assert closed.client.get("/openapi.json").status_code == 401
    assert closed.client.get("/openapi.json", headers=basic()).status_code == 200
    public = make_api(public_openapi=True)
    assert "paths" in public.client.get("/openapi.json").json()
    # only the document: every action still needs the token
    assert public.client.post("/v1/vhosts/default/apps/app:records").status_code == 401
