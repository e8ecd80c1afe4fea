"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager.

Used by the tests and by the embedded mode in the way envtest is used by Go operators: the real
API server gives the real semantics that mocks get wrong (resourceVersion conflicts, the status
subresource, watch resumption, finalizers, CRD schema and CEL validation, RBAC, garbage
collection). Components are handed kubeconfigs for their own ServiceAccounts, so RBAC is
exercised for real.

The admin side here speaks plain HTTPS with the standard library so the launcher works before
(and without) any Kubernetes client library being set up.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..ports import free_port
from . import binaries
from .lifetime import die_with_parent
from .pki import LocalPKI

#: Controllers the local control plane runs: enough for service-account tokens, namespace
#: deletion, garbage collection by owner references, and Deployments for the chart's workloads.
CONTROLLERS = (
    "serviceaccount-token-controller",
    "serviceaccount-controller",
    "namespace-controller",
    "garbage-collector-controller",
    "deployment-controller",
    "replicaset-controller",
    "root-ca-certificate-publisher-controller",
    "disruption-controller",
    "persistentvolumeclaim-protection-controller",
)
SERVICE_CIDR = "10.0.0.0/24"
ISSUER = "https://kubernetes.default.svc.cluster.local"


class ControlPlaneError(RuntimeError):
    """The control plane could not start or answer; the message says which part and why."""


class AdminError(RuntimeError):
    def __init__(self, status: int, body: dict[str, Any] | str, what: str) -> None:
        self.status = status
        self.body = body
        message = body.get("message", body) if isinstance(body, dict) else body
        super().__init__(f"{what}: HTTP {status}: {message}")


def _check_port_free(port: int, what: str, host: str = "127.0.0.1") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ControlPlaneError(
                f"{what} cannot listen on {host}:{port}: the port is in use ({exc.strerror})"
            ) from None


@dataclass
class _Process:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    #: Added to the inherited environment (the embedded stack marks its processes so).
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env={**os.environ, **self.env} if self.env else None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


def _kubeconfig(server: str, ca: Path, user: dict[str, str], name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {
            "server": server, "certificate-authority-data": _b64(ca.read_bytes())}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": "local", "user": name}}],
        "current-context": name,
    }


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


@dataclass
class ControlPlane:
    """A running local control plane; use :meth:`start` to make one and :meth:`stop` to end it."""

    workdir: Path
    url: str
    admin_kubeconfig: Path
    ca_cert: Path
    _processes: list[_Process] = field(default_factory=list)
    _admin_cert: tuple[Path, Path] | None = None
    _owns_workdir: bool = False
    _ssl: ssl.SSLContext | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        workdir: Path | None = None,
        *,
        api_port: int | None = None,
        bin_dir: Path | None = None,
        ready_timeout: float = 90.0,
        env: dict[str, str] | None = None,
    ) -> ControlPlane:
        """Starts etcd, kube-apiserver and kube-controller-manager and waits until ready;
        ``env`` is added to their environment."""
        bin_dir = bin_dir or binaries.find()
        owns = workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="recording-operator-cp-")) if owns else workdir
        assert workdir is not None
        workdir.mkdir(parents=True, exist_ok=True)
        for stale in ("etcd", "pki", "logs"):
            shutil.rmtree(workdir / stale, ignore_errors=True)
        logs = workdir / "logs"
        logs.mkdir()

        if api_port is not None:
            _check_port_free(api_port, "kube-apiserver")
        api_port = api_port or free_port()
        etcd_port, peer_port, kcm_port = free_port(), free_port(), free_port()

        pki = LocalPKI(workdir / "pki")
        serving = pki.serving(
            "apiserver",
            ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default",
             "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "10.0.0.1"],
        )
        admin = pki.client("admin", "recording-operator-admin", "system:masters")
        kcm = pki.client("controller-manager", "system:kube-controller-manager")
        sa = pki.service_account_keys()
        url = f"https://127.0.0.1:{api_port}"

        admin_kubeconfig = workdir / "admin.kubeconfig"
        _write_yaml(admin_kubeconfig, _kubeconfig(url, pki.ca_cert, {
            "client-certificate-data": _b64(admin.cert.read_bytes()),
            "client-key-data": _b64(admin.key.read_bytes())}, "admin"))
        kcm_kubeconfig = workdir / "controller-manager.kubeconfig"
        _write_yaml(kcm_kubeconfig, _kubeconfig(url, pki.ca_cert, {
            "client-certificate-data": _b64(kcm.cert.read_bytes()),
            "client-key-data": _b64(kcm.key.read_bytes())}, "controller-manager"))

        etcd = _Process("etcd", [
            str(bin_dir / "etcd"),
            "--name=local", f"--data-dir={workdir / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=local=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--log-level=warn",
        ], logs / "etcd.log")
        apiserver = _Process("kube-apiserver", [
            str(bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--tls-cert-file={serving.cert}", f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={sa.cert}",
            f"--service-account-signing-key-file={sa.key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--profiling=false",
            "--endpoint-reconciler-type=none",
            # a node joined to this control plane (the node suite's) is reached by its IP: its
            # name resolves nowhere, and `kubectl logs`/`exec` go through the kubelet
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--v=1",
        ], logs / "kube-apiserver.log")
        controller_manager = _Process("kube-controller-manager", [
            str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={kcm_kubeconfig}",
            f"--authentication-kubeconfig={kcm_kubeconfig}",
            f"--authorization-kubeconfig={kcm_kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={kcm_port}",
            f"--controllers={','.join(CONTROLLERS)}",
            f"--service-account-private-key-file={sa.key}",
            f"--root-ca-file={pki.ca_cert}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            "--concurrent-gc-syncs=5",
            "--v=1",
        ], logs / "kube-controller-manager.log")

        plane = cls(workdir=workdir, url=url, admin_kubeconfig=admin_kubeconfig,
                    ca_cert=pki.ca_cert, _admin_cert=(admin.cert, admin.key), _owns_workdir=owns)
        for process in (etcd, apiserver, controller_manager):
            process.env = dict(env or {})
        try:
            plane._launch(etcd, lambda: _tcp_open(etcd_port), ready_timeout)
            plane._launch(apiserver, plane._ready, ready_timeout)
            plane._launch(controller_manager, lambda: True, ready_timeout)
            plane._wait(controller_manager, plane._default_service_account_exists, ready_timeout,
                        "the default ServiceAccount to appear")
        except BaseException:
            plane.stop()
            raise
        return plane

    def _launch(self, process: _Process, ready: Any, timeout: float) -> None:
        process.start()
        self._processes.append(process)
        self._wait(process, ready, timeout, "it to become ready")

    def _wait(self, process: _Process, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = process.exited()
            if code is not None:
                raise ControlPlaneError(
                    f"{process.name} exited with code {code} during start; its last log lines "
                    f"({process.log}):\n{process.tail()}"
                )
            with contextlib.suppress(OSError, AdminError, ssl.SSLError):
                if ready():
                    return
            time.sleep(0.1)
        raise ControlPlaneError(
            f"{process.name}: timed out after {timeout:.0f}s waiting for {what}; its last log "
            f"lines ({process.log}):\n{process.tail()}"
        )

    def stop(self) -> None:
        """Stops every process, newest first, and removes a temporary workdir."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def processes(self) -> list[_Process]:
        """etcd, kube-apiserver, kube-controller-manager: each can be started again on its own
        (same flags, ports and data), as the embedded stack's supervisor does."""
        return list(self._processes)

    @property
    def pids(self) -> list[int]:
        return [p.popen.pid for p in self._processes if p.popen is not None]

    def logs(self) -> dict[str, Path]:
        return {p.name: p.log for p in self._processes}

    # -- admin REST --------------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            context = ssl.create_default_context(cafile=str(self.ca_cert))
            if self._admin_cert:
                context.load_cert_chain(str(self._admin_cert[0]), str(self._admin_cert[1]))
            self._ssl = context
        return self._ssl

    def admin_ssl_context(self) -> ssl.SSLContext:
        """TLS for an admin client of one's own (the CA and the admin's certificate)."""
        return self._context()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """One admin call to the API server; raises :class:`AdminError` on an HTTP error."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._context(), timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload: dict[str, Any] | str = json.loads(raw)
            except ValueError:
                payload = raw.decode(errors="replace")
            raise AdminError(exc.code, payload, f"{method} {path}") from None
        if not raw:
            return {}
        result: dict[str, Any] = json.loads(raw)
        return result

    def _ready(self) -> bool:
        req = urllib.request.Request(self.url + "/readyz")
        with urllib.request.urlopen(req, context=self._context(), timeout=5) as resp:
            return bool(resp.status == 200)

    def _default_service_account_exists(self) -> bool:
        self.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
        return True

    def apply(self, manifest: dict[str, Any], field_manager: str = "recording-operator-local") -> (
        dict[str, Any]
    ):
        """Server-side apply of one object (as ``kubectl apply --server-side`` would)."""
        path = _object_path(manifest)
        return self.request(
            "PATCH", f"{path}?fieldManager={field_manager}&force=true",
            json.dumps(manifest).encode(), content_type="application/apply-patch+yaml",
        )

    def apply_crds(self, directory: Path | None = None, timeout: float = 30.0) -> list[str]:
        """Applies every CRD in ``crds/`` and waits until each is Established."""
        directory = directory or _crds_dir()
        names = []
        for path in sorted(directory.glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc:
                    self.apply(doc)
                    names.append(doc["metadata"]["name"])
        deadline = time.monotonic() + timeout
        for name in names:
            while not self._crd_serves(name):
                if time.monotonic() > deadline:
                    raise ControlPlaneError(f"CRD {name} not served after {timeout}s")
                time.sleep(0.1)
        return names

    def _crd_serves(self, name: str) -> bool:
        """Established, and a LIST answers: right after Established the API server may still
        answer 429/404 for a moment, which would fail the first test that uses the resource."""
        crd = self.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conditions = (crd.get("status") or {}).get("conditions") or []
        if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return False
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served"))
        try:
            plural = spec["names"]["plural"]
            self.request("GET", f"/apis/{spec['group']}/{version}/{plural}?limit=1")
        except AdminError as exc:
            if exc.status in (404, 429, 503):
                return False
            raise
        return True

    def create_namespace(self, name: str) -> None:
        try:
            self.request("POST", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        except AdminError as exc:
            if exc.status != 409:
                raise

    def delete_namespace(self, name: str) -> None:
        with contextlib.suppress(AdminError):
            self.request("DELETE", f"/api/v1/namespaces/{name}")

    def service_account_kubeconfig(
        self,
        namespace: str,
        name: str,
        rules: list[dict[str, Any]] | None = None,
        *,
        cluster_wide: bool = False,
        path: Path | None = None,
        expiration_seconds: int = 24 * 3600,
    ) -> Path:
        """A kubeconfig for ServiceAccount ``namespace/name``, bound to ``rules``.

        The rules go into a Role (or a ClusterRole when ``cluster_wide``) bound to the account,
        and the token comes from the TokenRequest API, as a kubelet would get it.
        """
        self.create_namespace(namespace)
        self.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": name, "namespace": namespace}})
        if rules is not None:
            self.grant(namespace, name, rules, cluster_wide=cluster_wide)
        token = self.token(namespace, name, expiration_seconds=expiration_seconds)
        path = path or self.workdir / f"sa-{namespace}-{name}-{secrets.token_hex(3)}.kubeconfig"
        _write_yaml(path, _kubeconfig(self.url, self.ca_cert, {"token": token},
                                      f"{namespace}-{name}"))
        return path

    def grant(
        self, namespace: str, name: str, rules: list[dict[str, Any]], *, cluster_wide: bool = False
    ) -> None:
        role_name = f"{namespace}-{name}" if cluster_wide else name
        subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
        if cluster_wide:
            self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                        "metadata": {"name": role_name}, "rules": rules})
            self.apply({"apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "ClusterRoleBinding", "metadata": {"name": role_name},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                    "kind": "ClusterRole", "name": role_name},
                        "subjects": subject})
        else:
            self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                        "metadata": {"name": role_name, "namespace": namespace},
                        "rules": rules})
            self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                        "metadata": {"name": role_name, "namespace": namespace},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                    "name": role_name},
                        "subjects": subject})

    def token(
        self,
        namespace: str,
        name: str,
        *,
        expiration_seconds: int = 24 * 3600,
        bound_pod: tuple[str, str] | None = None,
    ) -> str:
        """A ServiceAccount token from the TokenRequest API (bound to a pod when given)."""
        spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
        if bound_pod:
            spec["boundObjectRef"] = {"kind": "Pod", "apiVersion": "v1", "name": bound_pod[0],
                                      "uid": bound_pod[1]}
        answer = self.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        token: str = answer["status"]["token"]
        return token


def _tcp_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def _write_yaml(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)


def _crds_dir() -> Path:
    root = binaries.checkout_root()
    if root is not None:
        return root / "crds"
    packaged = Path(__file__).resolve().parent.parent / "data" / "crds"
    if packaged.is_dir():
        return packaged
    raise ControlPlaneError("cannot find the CRDs: run from a checkout or pass a directory")


_CORE_KINDS = {"Namespace": "namespaces", "ServiceAccount": "serviceaccounts",
               "Pod": "pods", "ConfigMap": "configmaps", "Secret": "secrets",
               "Service": "services", "PersistentVolumeClaim": "persistentvolumeclaims",
               "Node": "nodes"}
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding",
                   "CustomResourceDefinition", "Node", "ValidatingAdmissionPolicy",
                   "ValidatingAdmissionPolicyBinding"}


def _object_path(manifest: dict[str, Any]) -> str:
    kind = manifest["kind"]
    api_version = manifest["apiVersion"]
    meta = manifest["metadata"]
    if api_version == "v1":
        base, plural = "/api/v1", _CORE_KINDS[kind]
    else:
        base = f"/apis/{api_version}"
        plural = kind.lower() + ("es" if kind.lower().endswith("s") else "s")
        if kind == "CustomResourceDefinition":
            plural = "customresourcedefinitions"
        elif kind.endswith("Policy"):
            plural = kind.lower()[:-1] + "ies"
    if kind in _CLUSTER_SCOPED:
        return f"{base}/{plural}/{meta['name']}"
    namespace = meta.get("namespace", "default")
    return f"{base}/namespaces/{namespace}/{plural}/{meta['name']}"


@contextlib.contextmanager
def running(workdir: Path | None = None, **kwargs: Any) -> Iterator[ControlPlane]:
    plane = ControlPlane.start(workdir, **kwargs)
    try:
        yield plane
    finally:
        plane.stop()
