"""The recorder's status client against the real local control plane, and against a scripted
server for the faults a real API server will not produce on demand (429, 5xx, 409)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from recording_operator.kube.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from recording_operator.kube.rest import KubeRest, get_status, in_cluster, patch_status
from recording_operator.kube.target import KubeTarget
from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.resource import GROUP, PLURAL, VERSION


def _create(plane: ControlPlane, namespace: str, name: str) -> None:
    plane.request("POST", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Recording",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"id": "id-1", "vhost": "default", "app": "app", "stream": {"name": "s"}},
    })


def _status(rest: KubeRest, namespace: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = get_status(rest, GROUP, VERSION, namespace, PLURAL, name).get(
        "status") or {}
    return status


@pytest.mark.controlplane
def test_merge_patches_the_status_with_the_recorders_own_rights(
    controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, list[dict[str, Any]]],
) -> None:
    _create(controlplane, namespace, "rec")
    kubeconfig = controlplane.service_account_kubeconfig(namespace, "recorder",
                                                         rbac_rules["recorder"])
    rest = KubeRest(KubeTarget(kubeconfig=str(kubeconfig)))
    try:
        patch_status(rest, GROUP, VERSION, namespace, PLURAL, "rec",
                     {"recordBytes": 10, "outputFilePath": "a.ts"})
        patch_status(rest, GROUP, VERSION, namespace, PLURAL, "rec",
                     {"recordBytes": 20, "outputFilePath": None})
        status = _status(rest, namespace, "rec")
        assert status["recordBytes"] == 20
        assert "outputFilePath" not in status  # None removes a field
        with pytest.raises(NotFound):
            patch_status(rest, GROUP, VERSION, namespace, PLURAL, "missing", {"recordBytes": 1})
        with pytest.raises(Invalid):
            patch_status(rest, GROUP, VERSION, namespace, PLURAL, "rec", {"recordBytes": "many"})
        with pytest.raises(Forbidden):  # the recorder's rules do not reach other namespaces
            get_status(rest, GROUP, VERSION, "default", PLURAL, "rec")
    finally:
        rest.close()


@pytest.mark.controlplane
def test_explicit_url_and_token(
    controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, list[dict[str, Any]]],
) -> None:
    _create(controlplane, namespace, "rec")
    controlplane.service_account_kubeconfig(namespace, "recorder", rbac_rules["recorder"])
    token = controlplane.token(namespace, "recorder")
    rest = KubeRest(KubeTarget(url=controlplane.url, token=token, insecure=True))
    patch_status(rest, GROUP, VERSION, namespace, PLURAL, "rec", {"sequence": 3})
    assert _status(rest, namespace, "rec")["sequence"] == 3
    anonymous = KubeRest(KubeTarget(url=controlplane.url, insecure=True))
    with pytest.raises(Forbidden):
        get_status(anonymous, GROUP, VERSION, namespace, PLURAL, "rec")


@pytest.mark.controlplane
def test_in_cluster_token_is_read_again_when_it_rotates(
    controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, list[dict[str, Any]]],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The projected token file is replaced by the kubelet; the client follows it."""
    _create(controlplane, namespace, "rec")
    controlplane.service_account_kubeconfig(namespace, "recorder", rbac_rules["recorder"])
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "ca.crt").write_bytes(controlplane.ca_cert.read_bytes())
    (account / "token").write_text("not-a-valid-token")
    host, port = controlplane.url.removeprefix("https://").rsplit(":", 1)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    rest = KubeRest(endpoint=in_cluster(account))
    with pytest.raises(Forbidden) as refused:
        get_status(rest, GROUP, VERSION, namespace, PLURAL, "rec")
    assert refused.value.status == 401
    fresh = account / "token.new"
    fresh.write_text(controlplane.token(namespace, "recorder"))
    fresh.replace(account / "token")
    assert "spec" in get_status(rest, GROUP, VERSION, namespace, PLURAL, "rec")


@pytest.mark.controlplane
def test_a_kubeconfig_rewritten_with_a_new_token_is_followed(
    controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, list[dict[str, Any]]],
) -> None:
    """The local kubelet rewrites the pod's kubeconfig when it renews the token."""
    _create(controlplane, namespace, "rec")
    kubeconfig = controlplane.service_account_kubeconfig(namespace, "recorder",
                                                         rbac_rules["recorder"])
    good = yaml.safe_load(kubeconfig.read_text())
    bad = json.loads(json.dumps(good))
    bad["users"][0]["user"]["token"] = "expired"
    kubeconfig.write_text(yaml.safe_dump(bad))
    rest = KubeRest(KubeTarget(kubeconfig=str(kubeconfig)))
    with pytest.raises(Forbidden):
        get_status(rest, GROUP, VERSION, namespace, PLURAL, "rec")
    kubeconfig.write_text(yaml.safe_dump(good))
    assert "spec" in get_status(rest, GROUP, VERSION, namespace, PLURAL, "rec")


def test_an_exec_plugin_kubeconfig_is_refused_clearly(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(yaml.safe_dump({
        "current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k",
                                                                       "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"exec": {"command": "aws"}}}],
    }))
    with pytest.raises(Exception, match="exec or auth-provider plugin"):
        KubeRest(KubeTarget(kubeconfig=str(config)))


class _Script(BaseHTTPRequestHandler):
    """Answers each request with the next scripted (status, headers, body)."""

    answers: list[tuple[int, dict[str, str], dict[str, Any]]] = []
    seen: list[tuple[str, str, str | None, str | None]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        self.seen.append((self.command, self.path, self.headers.get("Content-Type"), body))
        status, headers, answer = self.answers.pop(0)
        data = json.dumps(answer).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[_Script]]]:
    handler = type("Handler", (_Script,), {"answers": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def _failure(status: int, reason: str, headers: dict[str, str] | None = None
             ) -> tuple[int, dict[str, str], dict[str, Any]]:
    return status, headers or {}, {"kind": "Status", "message": f"scripted {reason}"}


def test_busy_and_failing_servers_are_unavailable_with_their_retry_after(
    scripted: tuple[str, type[_Script]],
) -> None:
    url, handler = scripted
    handler.answers[:] = [
        _failure(429, "too many requests", {"Retry-After": "3"}),
        _failure(503, "unavailable"),
        _failure(409, "conflict"),
        (200, {}, {"status": {"recordBytes": 5}}),
    ]
    rest = KubeRest(KubeTarget(url=url, token="t0k"))
    with pytest.raises(Unavailable) as busy:
        patch_status(rest, GROUP, VERSION, "ns", PLURAL, "rec", {"recordBytes": 5})
    assert busy.value.retry_after == 3.0 and "scripted too many requests" in str(busy.value)
    with pytest.raises(Unavailable) as down:
        patch_status(rest, GROUP, VERSION, "ns", PLURAL, "rec", {"recordBytes": 5})
    assert down.value.status == 503
    with pytest.raises(Conflict):
        patch_status(rest, GROUP, VERSION, "ns", PLURAL, "rec", {"recordBytes": 5})
    assert patch_status(rest, GROUP, VERSION, "ns", PLURAL, "rec", {"recordBytes": 5}) == {
        "status": {"recordBytes": 5}}
    method, path, content_type, body = handler.seen[-1]
    assert (method, content_type) == ("PATCH", "application/merge-patch+json")
    assert path == f"/apis/{GROUP}/{VERSION}/namespaces/ns/{PLURAL}/rec/status"
    assert json.loads(body or "") == {"status": {"recordBytes": 5}}


def test_no_server_is_unavailable() -> None:
    rest = KubeRest(KubeTarget(url="http://127.0.0.1:9"), timeout=2)
    with pytest.raises(Unavailable):
        get_status(rest, GROUP, VERSION, "ns", PLURAL, "rec")
