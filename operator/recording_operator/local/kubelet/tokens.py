"""Service-account tokens for pods, the way a kubelet hands them out.

Each token comes from the TokenRequest API bound to the pod (name and uid), so it stops working
once the pod is gone, and is re-requested at 80% of the lifetime it asked for. Besides the
projected token files the pod asks for, the runner writes ``token``, ``ca.crt``, ``namespace``
and a ``kubeconfig`` holding the token into the pod's ``serviceaccount`` directory: an in-cluster
loader would look under ``/var/run/secrets``, which a local process cannot have, and the
project's loader (kube/connection.py) prefers ``$KUBECONFIG``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from ...timeouts import wait_event
from .api import Api, RunnerApiError
from .status import parse_time

log = logging.getLogger(__name__)
Obj = dict[str, Any]

#: The kubelet's default for the automounted token: the API server may extend a bound token of
#: exactly this lifetime (``--service-account-extend-token-expiration``), so clients that load
#: their token once keep working while refreshed clients see the short lifetime.
DEFAULT_EXPIRATION = 3607


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Atomically, so a reader never sees half a token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


@dataclass
class _Token:
    value: str
    issued: datetime
    expires: datetime
    #: The lifetime asked for; the server may grant more (see DEFAULT_EXPIRATION).
    requested: int
    files: list[tuple[Path, int]]


class PodTokens:
    """The tokens of one pod, keyed by (audience, lifetime), each written to its files."""

    def __init__(self, api: Api, pod: Obj, *, ca_pem: bytes | None,
                 refresh_fraction: float = 0.8) -> None:
        meta = pod["metadata"]
        self.api = api
        self.namespace: str = meta["namespace"]
        self.pod_name: str = meta["name"]
        self.pod_uid: str = meta["uid"]
        self.account: str = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        self.ca_pem = ca_pem
        self.refresh_fraction = refresh_fraction
        self._tokens: dict[tuple[str | None, int], _Token] = {}
        self._kubeconfigs: list[tuple[Path, tuple[str | None, int]]] = []
        self._changed = asyncio.Event()

    async def _request(self, audience: str | None, expiration: int) -> _Token:
        spec: Obj = {
            "expirationSeconds": expiration,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.pod_name,
                               "uid": self.pod_uid},
        }
        if audience:
            spec["audiences"] = [audience]
        answer = await self.api.request(
            "POST",
            f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{self.account}/token",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                  "spec": spec},
        )
        status = answer.get("status") or {}
        expires = parse_time(status["expirationTimestamp"])
        return _Token(status["token"], datetime.now(UTC), expires, expiration, [])

    async def token(self, audience: str | None = None,
                    expiration: int = DEFAULT_EXPIRATION) -> str:
        key = (audience or None, expiration)
        if key not in self._tokens:
            self._tokens[key] = await self._request(*key)
            self._changed.set()
        return self._tokens[key].value

    async def write_token(self, path: Path, audience: str | None, expiration: int,
                          mode: int = 0o600) -> None:
        """A projected token file, kept fresh for as long as the pod runs."""
        value = await self.token(audience, expiration)
        files = self._tokens[(audience or None, expiration)].files
        if (path, mode) not in files:
            files.append((path, mode))
        write_private(path, value.encode(), mode)

    async def write_service_account(self, directory: Path) -> Path:
        """token, ca.crt, namespace and a kubeconfig; returns the kubeconfig's path."""
        key = (None, DEFAULT_EXPIRATION)
        await self.write_token(directory / "token", *key)
        if self.ca_pem:
            write_private(directory / "ca.crt", self.ca_pem, 0o644)
        write_private(directory / "namespace", self.namespace.encode(), 0o644)
        kubeconfig = directory / "kubeconfig"
        if (kubeconfig, key) not in self._kubeconfigs:
            self._kubeconfigs.append((kubeconfig, key))
        self._write_kubeconfig(kubeconfig, key)
        return kubeconfig

    def _write_kubeconfig(self, path: Path, key: tuple[str | None, int]) -> None:
        cluster: Obj = {"server": self.api.server}
        if self.ca_pem:
            cluster["certificate-authority"] = str(path.parent / "ca.crt")
        else:
            cluster["insecure-skip-tls-verify"] = True
        user = f"system:serviceaccount:{self.namespace}:{self.account}"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": cluster}],
            "users": [{"name": user, "user": {"token": self._tokens[key].value}}],
            "contexts": [{"name": "pod", "context": {
                "cluster": "local", "user": user, "namespace": self.namespace}}],
            "current-context": "pod",
        }
        write_private(path, yaml.safe_dump(config, sort_keys=False).encode())

    def _refresh_at(self, token: _Token) -> datetime:
        """A fraction of the lifetime asked for, not of an extended one: as a kubelet, so
        the pod never holds a token past the point the server warns about it."""
        lifetime = min(token.expires - token.issued, timedelta(seconds=token.requested))
        return token.issued + lifetime * self.refresh_fraction

    async def refresh_forever(self) -> None:
        """Re-requests each token at ``refresh_fraction`` of its lifetime and rewrites its
        files; runs until cancelled. A failed request is retried, the old token kept."""
        while True:
            if not self._tokens:
                self._changed.clear()
                await self._changed.wait()
                continue
            due = min(self._refresh_at(t) for t in self._tokens.values())
            delay = (due - datetime.now(UTC)).total_seconds()
            if delay > 0:
                self._changed.clear()
                await wait_event(self._changed, delay)
                continue
            for key, old in list(self._tokens.items()):
                if self._refresh_at(old) > datetime.now(UTC):
                    continue
                try:
                    new = await self._request(*key)
                except RunnerApiError as exc:
                    log.warning("token refresh for pod %s/%s failed: %s", self.namespace,
                                self.pod_name, exc)
                    await asyncio.sleep(min(10.0, max(1.0, delay)))
                    continue
                new.files = old.files
                self._tokens[key] = new
                for path, mode in new.files:
                    write_private(path, new.value.encode(), mode)
                for path, kube_key in self._kubeconfigs:
                    if kube_key == key:
                        self._write_kubeconfig(path, key)
