"""A small, synchronous Kubernetes REST client: JSON requests with the caller's credentials.

The recorder reads and patches one object, its Recording's ``status``, every few seconds. A full
client (kubernetes_asyncio: some 1,200 modules, ~50 MB of model classes, plus aiohttp and asyncio)
cost a recorder pod more memory than its media work, so this module speaks the REST API directly
over the standard library's ``http.client`` and ``ssl``. Measured on top of what a recorder has
already loaded (PyAV, the model): ``http.client`` + ``ssl`` add nothing (they are loaded already),
httpx adds ~7 MB and aiohttp ~11 MB of peak RSS; see docs/benchmarks.md.

Credentials come from the same places, in the same order, as ``kube.connection`` takes them
(:class:`~recording_operator.kube.target.KubeTarget`): an explicit URL and token; a kubeconfig
(a token, a token file or a client certificate; exec plugins are refused with a clear error);
in-cluster, the pod's projected ServiceAccount token and CA. A token that lives in a file (the
projected token, a kubeconfig's ``tokenFile``, or the kubeconfig the local kubelet rewrites) is
read again whenever the file changes, and once more after a 401, so a rotated token is picked up
without a restart.

Failures are :mod:`recording_operator.kube.errors`: a refused call by its HTTP status, and
anything that is worth retrying (429, 5xx, a timeout, a broken connection) as ``Unavailable``
carrying the server's Retry-After. Retrying is the caller's decision; this client only reconnects
once when a kept-alive connection turns out to have been closed by the server.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .errors import KubeError, Unavailable, from_status, translate
from .target import KubeTarget

#: Where a pod's projected ServiceAccount credentials are mounted.
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MERGE_PATCH = "application/merge-patch+json"


class _FileToken:
    """A bearer token read from a file, read again when the file changes (rotation)."""

    def __init__(self, read: Callable[[], str], path: Path) -> None:
        self._read = read
        self._path = path
        self._seen: tuple[int, int, int] | None = None
        self._value = ""

    def value(self, *, force: bool = False) -> str:
        try:
            st = self._path.stat()
            seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError as exc:
            raise Unavailable(f"cannot read the token file {self._path}: {exc.strerror}") from exc
        if force or seen != self._seen or not self._value:
            self._value = self._read().strip()
            self._seen = seen
        return self._value


@dataclass
class Endpoint:
    scheme: str
    host: str
    port: int
    base_path: str
    context: ssl.SSLContext | None
    #: () -> the Authorization header value, or None; ``force`` re-reads a token file.
    authorization: Callable[[bool], str | None]


def _context(
    *, insecure: bool, ca_file: str | None = None, ca_data: bytes | None = None,
    cert_file: str | None = None, key_file: str | None = None,
    cert_data: bytes | None = None, key_data: bytes | None = None,
) -> ssl.SSLContext:
    if insecure:
        context = ssl._create_unverified_context()  # noqa: S323 - asked for explicitly
    elif ca_file or ca_data:
        context = ssl.create_default_context(
            cafile=ca_file, cadata=ca_data.decode() if ca_data else None)
    else:
        context = ssl.create_default_context()
    if cert_data and key_data:
        # ssl loads a client certificate only from files: write them privately, load, remove.
        with tempfile.TemporaryDirectory(prefix="kube-client-") as tmp:
            cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            for path, data in ((cert_path, cert_data), (key_path, key_data)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
            context.load_cert_chain(str(cert_path), str(key_path))
    elif cert_file and key_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def _static(value: str | None) -> Callable[[bool], str | None]:
    header = f"Bearer {value}" if value else None
    return lambda force: header


def _from_url(url: str, context: ssl.SSLContext | None,
              authorization: Callable[[bool], str | None]) -> Endpoint:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KubeError(f"the Kubernetes API URL {url!r} is not http(s)://host[:port]")
    https = parts.scheme == "https"
    return Endpoint(
        scheme=parts.scheme, host=parts.hostname, port=parts.port or (443 if https else 80),
        base_path=parts.path.rstrip("/"), context=context if https else None,
        authorization=authorization,
    )


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _kubeconfig(path: Path) -> Endpoint:
    import yaml  # only a kubeconfig needs it

    def load() -> dict[str, Any]:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise KubeError(f"cannot read the kubeconfig {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise KubeError(f"the kubeconfig {path} is not a mapping")
        return data

    def named(data: dict[str, Any], kind: str, name: str | None) -> dict[str, Any]:
        for item in data.get(f"{kind}s") or []:
            if name is None or item.get("name") == name:
                found: dict[str, Any] = item.get(kind) or {}
                return found
        raise KubeError(f"the kubeconfig {path} has no {kind} {name!r}")

    def current(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        context = named(data, "context", data.get("current-context"))
        return (named(data, "cluster", context.get("cluster")),
                named(data, "user", context.get("user")))

    base = path.parent

    def relative(name: str) -> str:
        return str(base / name)

    cluster, user = current(load())
    if user.get("exec") or user.get("auth-provider"):
        raise KubeError(
            f"the kubeconfig {path} authenticates with an exec or auth-provider plugin, which "
            "the recorder's status client does not run: give it a token (or tokenFile) or a "
            "client certificate")
    ca_data = _b64(cluster["certificate-authority-data"]) if cluster.get(
        "certificate-authority-data") else None
    ca_file = relative(cluster["certificate-authority"]) if cluster.get(
        "certificate-authority") else None
    context = _context(
        insecure=bool(cluster.get("insecure-skip-tls-verify")), ca_file=ca_file, ca_data=ca_data,
        cert_file=relative(user["client-certificate"]) if user.get("client-certificate") else None,
        key_file=relative(user["client-key"]) if user.get("client-key") else None,
        cert_data=_b64(user["client-certificate-data"]) if user.get(
            "client-certificate-data") else None,
        key_data=_b64(user["client-key-data"]) if user.get("client-key-data") else None,
    )
    authorization: Callable[[bool], str | None]
    if user.get("tokenFile"):
        token_path = Path(relative(user["tokenFile"]))
        file_token = _FileToken(lambda: token_path.read_text(encoding="utf-8"), token_path)
        authorization = lambda force: f"Bearer {file_token.value(force=force)}"  # noqa: E731
    elif user.get("token"):
        # The kubeconfig itself may be rewritten with a fresh token (the local kubelet does).
        def read_token() -> str:
            return str(current(load())[1].get("token") or "")

        kube_token = _FileToken(read_token, path)
        authorization = lambda force: f"Bearer {kube_token.value(force=force)}"  # noqa: E731
    elif user.get("username") and user.get("password"):
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        authorization = lambda force: f"Basic {basic}"  # noqa: E731
    else:
        authorization = _static(None)
    server = cluster.get("server")
    if not server:
        raise KubeError(f"the kubeconfig {path} names no server")
    return _from_url(str(server), context, authorization)


def in_cluster(directory: Path = SERVICE_ACCOUNT_DIR) -> Endpoint:
    """The API server's Service address and the pod's projected token and CA."""
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    token_path = directory / "token"
    ca = directory / "ca.crt"
    context = _context(insecure=False, ca_file=str(ca) if ca.is_file() else None)
    token = _FileToken(lambda: token_path.read_text(encoding="utf-8"), token_path)
    netloc = f"[{host}]" if ":" in host else host
    return _from_url(f"https://{netloc}:{port}", context,
                     lambda force: f"Bearer {token.value(force=force)}")


def endpoint_for(target: KubeTarget | None = None) -> Endpoint:
    """Where and how to connect, in ``kube.connection``'s order of preference."""
    target = target or KubeTarget()
    if target.url:
        https = target.url.startswith("https:")
        context = _context(insecure=target.insecure) if https else None
        return _from_url(target.url, context, _static(target.token))
    kubeconfig = target.kubeconfig or os.environ.get("KUBECONFIG")
    if kubeconfig:
        return _kubeconfig(Path(kubeconfig.split(os.pathsep)[0]))
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster()
    return _kubeconfig(Path.home() / ".kube" / "config")


class KubeRest:
    """JSON over one kept-alive connection to the API server; thread-safe, one call at a time.

    ``KubeRest(target)`` reads the configuration at once (a broken kubeconfig fails here, not at
    the first call); nothing is sent until the first request.
    """

    def __init__(self, target: KubeTarget | None = None, *, timeout: float = 10.0,
                 endpoint: Endpoint | None = None) -> None:
        self._endpoint = endpoint or endpoint_for(target)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None

    @property
    def server(self) -> str:
        e = self._endpoint
        return f"{e.scheme}://{e.host}:{e.port}{e.base_path}"

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        e = self._endpoint
        if e.context is not None:
            return http.client.HTTPSConnection(e.host, e.port, timeout=self._timeout,
                                               context=e.context)
        return http.client.HTTPConnection(e.host, e.port, timeout=self._timeout)

    def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
        doing: str = "",
    ) -> Any:
        """Sends one call; the decoded JSON answer, or a :class:`KubeError`."""
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        with self._lock:
            status, reason, headers, data = self._exchange(method, path, payload, content_type,
                                                           doing, force_token=False)
            if status == 401:
                # A rotated token: read it again and try once more.
                status, reason, headers, data = self._exchange(
                    method, path, payload, content_type, doing, force_token=True)
        if status >= 300:
            raise from_status(status, data, reason=reason, doing=doing, headers=headers)
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise Unavailable(f"{doing}: the API server's answer is not JSON" if doing else
                              "the API server's answer is not JSON") from exc

    def _exchange(
        self, method: str, path: str, payload: bytes | None, content_type: str, doing: str,
        *, force_token: bool,
    ) -> tuple[int, str, dict[str, str], bytes]:
        e = self._endpoint
        headers = {"Accept": "application/json", "User-Agent": "recording-operator-recorder"}
        auth = e.authorization(force_token)
        if auth:
            headers["Authorization"] = auth
        if payload is not None:
            headers["Content-Type"] = content_type
        for attempt in (0, 1):
            reused = self._connection is not None
            connection = self._connection or self._connect()
            self._connection = connection
            try:
                connection.request(method, e.base_path + path, body=payload, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                if reused and attempt == 0 and isinstance(
                        exc, http.client.RemoteDisconnected | ConnectionResetError
                        | BrokenPipeError):
                    continue  # the server closed the idle connection: one fresh try
                raise translate(exc, doing) from exc
            if response.will_close:
                self._drop()
            return response.status, response.reason, dict(response.headers.items()), data
        raise AssertionError("unreachable")  # pragma: no cover


def object_path(group: str, version: str, namespace: str, plural: str, name: str,
                subresource: str = "") -> str:
    """The REST path of a namespaced custom object (or of one of its subresources)."""
    path = (f"/apis/{group}/{version}/namespaces/{quote(namespace, safe='')}/{plural}/"
            f"{quote(name, safe='')}")
    return f"{path}/{subresource}" if subresource else path


def get_status(rest: KubeRest, group: str, version: str, namespace: str, plural: str,
               name: str) -> dict[str, Any]:
    """The object as its ``status`` subresource returns it."""
    answer: dict[str, Any] = rest.request(
        "GET", object_path(group, version, namespace, plural, name, "status"),
        doing=f"reading the status of {plural}/{name}")
    return answer


def patch_status(rest: KubeRest, group: str, version: str, namespace: str, plural: str,
                 name: str, status: dict[str, Any]) -> dict[str, Any]:
    """Merges ``status`` into the object's status (fields set to None are removed)."""
    answer: dict[str, Any] = rest.request(
        "PATCH", object_path(group, version, namespace, plural, name, "status"),
        {"status": status}, content_type=MERGE_PATCH,
        doing=f"patching the status of {plural}/{name}")
    return answer
