"""Plain-JSON calls to the API server over the kubernetes_asyncio client.

The runner handles Pods, Nodes and Leases as the JSON the API server sends: it reads and writes
a handful of fields, must keep unknown ones intact, and never needs the generated models. The
client still provides TLS, authentication from the kubeconfig and connection pooling.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

log = logging.getLogger(__name__)

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
Obj = dict[str, Any]
#: What a lost connection or a stalled server raises; all of it becomes RunnerApiError(0).
_TRANSPORT = (TimeoutError, OSError, aiohttp.ClientError)


class RunnerApiError(Exception):
    """An answer outside 2xx; ``status`` 0 means the server was not reached."""

    def __init__(self, status: int, reason: str, body: Obj | None = None) -> None:
        self.status = status
        self.reason = reason
        self.body = body or {}
        message = self.body.get("message") or reason
        super().__init__(f"HTTP {status}: {message}")


class Gone(RunnerApiError):
    """The watch's resourceVersion is too old: the caller must list again."""


class Api:
    """The few verbs the runner uses, as JSON in and JSON out."""

    def __init__(self, api_client: client.ApiClient, timeout: float = 30.0) -> None:
        self.client = api_client
        self.timeout = timeout

    @property
    def server(self) -> str:
        return str(self.client.configuration.host)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        within: float | None = None,
    ) -> Obj:
        try:
            response = await self.client.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params={"Accept": JSON, "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=within or self.timeout,
            )
        except _TRANSPORT as exc:
            raise RunnerApiError(0, f"{method} {path}: {exc!r}") from exc
        except ApiException as exc:  # raised by the client for some transport errors
            raise RunnerApiError(exc.status or 0, str(exc.reason)) from exc
        try:
            raw = await response.read()
            status = response.status
        except _TRANSPORT as exc:
            raise RunnerApiError(0, f"{method} {path}: {exc!r}") from exc
        finally:
            response.release()
        data = _decode(raw)
        if not 200 <= status < 300:
            raise RunnerApiError(status, f"{method} {path}", data)
        return data

    async def watch(
        self, path: str, resource_version: str, timeout_seconds: int = 290
    ) -> AsyncIterator[Obj]:
        """Events of one watch request from ``resource_version``, until the server ends it.

        Raises :class:`Gone` when the version has been compacted away; the caller lists again.
        """
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        try:
            response = await self.client.call_api(
                path,
                "GET",
                query_params=list(query.items()),
                header_params={"Accept": JSON, "Content-Type": JSON},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=aiohttp.ClientTimeout(
                    sock_connect=self.timeout, sock_read=timeout_seconds + 30),
            )
        except _TRANSPORT as exc:
            raise RunnerApiError(0, f"watch {path}: {exc!r}") from exc
        try:
            if response.status == 410:
                raise Gone(410, f"watch {path}", _decode(await response.read()))
            if not 200 <= response.status < 300:
                raise RunnerApiError(
                    response.status, f"watch {path}", _decode(await response.read())
                )
            while True:
                try:
                    line = await response.content.readline()
                except _TRANSPORT as exc:
                    raise RunnerApiError(0, f"watch {path}: {exc!r}") from exc
                if not line:
                    return
                event = _decode(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    code = int(status.get("code") or 0)
                    error = Gone if code == 410 else RunnerApiError
                    raise error(code, f"watch {path}", status)
                yield event
        finally:
            response.release()


def _decode(raw: bytes) -> Obj:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {"message": raw.decode(errors="replace")[:500]}
    return data if isinstance(data, dict) else {"items": data}


def pod_path(namespace: str, name: str, sub: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}" + (f"/{sub}" if sub else "")
