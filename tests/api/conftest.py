"""The real API app over HTTP (uvicorn on a loopback socket) against the local control plane,
running under the API's own ServiceAccount with the chart's ``api`` rules: a call the rules do
not allow fails as a 503 and so fails the test."""

from __future__ import annotations

import base64
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn

from recording_operator.api.app import create_app
from recording_operator.api.settings import ApiSettings
from recording_operator.kube.target import KubeTarget
from recording_operator.local.controlplane import AdminError, ControlPlane
from recording_operator.model.config import parse_config
from recording_operator.model.resource import GROUP, PLURAL, VERSION
from tests.waiting import wait_for

if TYPE_CHECKING:
    from .support import Process

TOKEN = "ome-access:token"  # a colon inside: the token is compared whole
API_SA = "recording-operator-api"


def basic(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}


def config_for(namespace: str, **top: Any) -> dict[str, Any]:
    """vhost ``default`` with apps ``app`` and ``app2`` (with variants), vhost ``live`` with
    ``app``: all in ``namespace``."""
    source = "rtmp://127.0.0.1:1935/{app}/{stream}"
    return {
        "namespace": namespace,
        **top,
        "vhosts": {
            "default": {
                "apps": {
                    "app": {"source": source},
                    "app2": {
                        "source": source,
                        "variants": {
                            "video_1080": {"media": "video", "index": 0},
                            "audio_aac": {"media": "audio"},
                        },
                    },
                }
            },
            "live": {"apps": {"app": {"source": source}}},
        },
    }


class ServerThread:
    """uvicorn serving an app on a socket bound here, in a thread with its own event loop."""

    def __init__(self, app: Any) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP
        # (without it every keep-alive answer waits ~40 ms for a delayed ACK).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


@dataclass
class Api:
    """A running API and an authenticated client for it."""

    url: str
    namespace: str
    client: httpx.Client
    plane: ControlPlane
    sent: list[httpx.Response] = field(default_factory=list)

    def call(
        self,
        action: str,
        body: Any = None,
        *,
        vhost: str = "default",
        app: str = "app",
        method: str = "POST",
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        all_headers = {**(basic() if auth else {}), **(headers or {})}
        kwargs: dict[str, Any] = {"headers": all_headers}
        if content is not None:
            kwargs["content"] = content
        elif body is not None:
            kwargs["json"] = body
        return self.client.request(
            method, f"/v1/vhosts/{vhost}/apps/{app}:{action}", **kwargs
        )

    def start(self, record_id: str, stream: str = "stream", **fields: Any) -> dict[str, Any]:
        answer = self.call("startRecord", {"id": record_id, "stream": {"name": stream}, **fields})
        assert answer.status_code == 200, answer.text
        task: dict[str, Any] = answer.json()["response"]
        return task

    def records(self, body: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
        answer = self.call("records", body, **kwargs)
        assert answer.status_code == 200, answer.text
        tasks: list[dict[str, Any]] = answer.json()["response"]
        return tasks

    def records_when(
        self, condition: Callable[[list[dict[str, Any]]], bool], body: Any = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """records once it satisfies ``condition``: changes made by other writers (kubectl,
        the operator, the recorder) reach the API through its watch within milliseconds."""
        seen: list[list[dict[str, Any]]] = []

        def check() -> bool:
            seen.append(self.records(body, **kwargs))
            return condition(seen[-1])

        wait_for(check, 5, "records to show the change")
        return seen[-1]

    # -- the admin side: what kubectl, the operator and the recorder do ----------------------

    @property
    def _base(self) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{PLURAL}"

    def recordings(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.plane.request("GET", self._base)["items"]
        return items

    def recording(self, record_id: str) -> dict[str, Any]:
        matches = [r for r in self.recordings() if r["spec"]["id"] == record_id]
        assert len(matches) == 1, matches
        return matches[0]

    def patch_status(self, name: str, status: dict[str, Any]) -> None:
        self.plane.request(
            "PATCH", f"{self._base}/{name}/status", {"status": status},
            content_type="application/merge-patch+json",
        )

    def patch(self, name: str, patch: dict[str, Any]) -> None:
        self.plane.request(
            "PATCH", f"{self._base}/{name}", patch, content_type="application/merge-patch+json"
        )

    def create_as_kubectl(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return self.plane.request("POST", self._base, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Recording",
            "metadata": {"name": name}, "spec": spec,
        })

    def gone(self, name: str) -> bool:
        try:
            self.plane.request("GET", f"{self._base}/{name}")
        except AdminError as exc:
            return exc.status == 404
        return False



@pytest.fixture(scope="session")
def recordings_served(controlplane: ControlPlane) -> None:
    """Waits until the API server serves Recordings: right after the CRD is Established its
    storage may still be initialising (429), which no test here is about."""

    def served() -> bool:
        try:
            controlplane.request("GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}?limit=1")
        except AdminError as exc:
            if exc.status == 429:
                return False
            raise
        return True

    wait_for(served, 30, "the Recording storage to be ready")


@pytest.fixture
def api_kubeconfig(
    controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, list[dict[str, Any]]]
) -> Path:
    """A kubeconfig for the API's ServiceAccount, bound to exactly the chart's ``api`` rules."""
    return controlplane.service_account_kubeconfig(namespace, API_SA, rules=rbac_rules["api"])


ApiFactory = Callable[..., Api]


class _Apis:
    """Starts APIs for one namespace and stops them all at the end."""

    def __init__(self, plane: ControlPlane, namespace: str, kubeconfig: Path) -> None:
        self.plane, self.namespace, self.kubeconfig = plane, namespace, kubeconfig
        self.running: list[tuple[ServerThread, httpx.Client]] = []

    def make(
        self,
        *,
        kube: KubeTarget | None = None,
        kube_timeout: float = 10.0,
        prefix: str = "/v1",
        public_openapi: bool = False,
        catalogue_url: str | None = None,
        **top: Any,
    ) -> Api:
        settings = ApiSettings(
            config=parse_config(config_for(self.namespace, **top)),
            access_token=TOKEN,
            prefix=prefix,
            kube=kube or KubeTarget(kubeconfig=str(self.kubeconfig)),
            kube_timeout=kube_timeout,
            public_openapi=public_openapi,
            catalogue_url=catalogue_url,
        )
        server = ServerThread(create_app(settings)).__enter__()
        client = httpx.Client(base_url=server.url, timeout=30)
        self.running.append((server, client))
        return Api(url=server.url, namespace=self.namespace, client=client, plane=self.plane)

    def stop(self) -> None:
        for server, client in self.running:
            client.close()
            server.__exit__()


@pytest.fixture
def make_api(
    controlplane: ControlPlane, namespace: str, api_kubeconfig: Path, recordings_served: None
) -> Iterator[ApiFactory]:
    """Starts an API for this test's namespace; keyword arguments go to the config's top level
    (e.g. ``legacyStartRecordArray=True``); ``kube=`` overrides the Kubernetes target."""
    apis = _Apis(controlplane, namespace, api_kubeconfig)
    yield apis.make
    apis.stop()


@pytest.fixture
def api(make_api: ApiFactory) -> Api:
    """An API of its own for a test that makes Recordings."""
    return make_api()


@pytest.fixture(scope="module")
def shared_api(
    controlplane: ControlPlane,
    rbac_rules: dict[str, list[dict[str, Any]]],
    recordings_served: None,
) -> Iterator[Api]:
    """One API per module for tests that leave no Recording behind (refusals, routing)."""
    namespace = f"api-{secrets.token_hex(4)}"
    kubeconfig = controlplane.service_account_kubeconfig(
        namespace, API_SA, rules=rbac_rules["api"]
    )
    apis = _Apis(controlplane, namespace, kubeconfig)
    yield apis.make()
    apis.stop()
    controlplane.delete_namespace(namespace)


def unique_id() -> str:
    return f"id-{secrets.token_hex(3)}"


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """The API processes a test starts (support.Process), killed if still running after it."""
    started: list[Process] = []
    yield started
    for process in started:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait()
