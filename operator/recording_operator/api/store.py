"""Where the API keeps tasks: Recording resources in Kubernetes.

The routes see only :class:`RecordingStore`, so a watch-backed cache (for records at thousands
of tasks) can replace the plain calls later behind the same methods. Such a cache must keep
read-your-writes for a client: ``create``/``delete`` apply their result to it before returning.

Finding a vhost/app's Recordings uses field selectors on ``spec.vhost``/``spec.app``/``spec.id``
(the CRD declares them ``selectableFields``), not the vhost/app labels: the spec is immutable
and always there (the CRD defaults vhost and app), whereas a Recording made with kubectl may
lack the labels until the operator adds them, and labels can be edited. The API server filters,
so only the matching Recordings cross the wire.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from ..kube.connection import KubeTarget, connect
from ..model.resource import GROUP, PLURAL, VERSION

Recording = dict[str, Any]

#: How long one Kubernetes call may take before the client gets a 503.
DEFAULT_TIMEOUT_SECONDS = 10.0


class StoreUnavailable(Exception):
    """The Kubernetes API failed or could not be reached; the message says which and why."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        #: A watch's resourceVersion is too old (410 Gone): list afresh.
        self.gone = gone


class AlreadyExists(Exception):
    """A Recording of that name exists already."""


class Rejected(Exception):
    """The Kubernetes API refused the Recording as invalid (a rule the API did not check)."""


class RecordingStore(Protocol):
    async def find(self, namespace: str, vhost: str, app: str, record_id: str) -> list[Recording]:
        """The Recordings with this spec id in this vhost/app (normally zero or one)."""
        ...

    async def list(self, namespace: str, vhost: str, app: str) -> list[Recording]:
        """Every Recording of this vhost/app, in no particular order."""
        ...

    async def create(self, namespace: str, body: Recording) -> Recording:
        """Creates the Recording; raises :class:`AlreadyExists` when the name is taken."""
        ...

    async def delete(self, namespace: str, name: str) -> bool:
        """Starts the deletion; False when the Recording was already gone."""
        ...

    async def close(self) -> None: ...


def escape_selector_value(value: str) -> str:
    """Escapes a field selector value as Kubernetes' ``fields.EscapeValue`` does."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _selector(**fields: str) -> str:
    return ",".join(f"spec.{key}={escape_selector_value(value)}" for key, value in fields.items())


def _describe(exc: ApiException) -> str:
    detail = ""
    try:
        detail = str(json.loads(exc.body or "{}").get("message", ""))
    except (ValueError, AttributeError, TypeError):
        detail = ""
    text = f"{exc.status} {exc.reason or ''}".strip()
    return f"{text}: {detail}" if detail else text


def _retry_after(exc: ApiException) -> float:
    """Seconds to wait before retrying a 429: the server's Retry-After, within [0.05, 1]."""
    headers: Any = exc.headers or {}
    try:
        seconds = float(headers.get("Retry-After", "0.1"))
    except (TypeError, ValueError, AttributeError):
        seconds = 0.1
    return min(max(seconds, 0.05), 1.0)


class KubernetesStore:
    """Recordings through the Kubernetes API, one call per operation."""

    def __init__(
        self, api_client: client.ApiClient, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self._api_client = api_client
        self._api = client.CustomObjectsApi(api_client)
        self._timeout = timeout

    @classmethod
    async def connect(
        cls, target: KubeTarget, call_timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> KubernetesStore:
        return cls(await connect(target), call_timeout)

    async def close(self) -> None:
        await self._api_client.close()

    async def _call(
        self, doing: str, call: Callable[[], Awaitable[Any]], *, missing_ok: bool = False
    ) -> Any:
        """Makes one API call, turning its failures into the store's exceptions (None for a 404
        when ``missing_ok``).

        A 429 (the API server's flow control, or a resource's storage still initialising) means
        the request was not processed, so it is retried after Retry-After, as client-go does,
        while the time budget lasts.
        """
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return await call()
            except ApiException as exc:
                if exc.status == 429:
                    pause = _retry_after(exc)
                    if time.monotonic() + pause < deadline:
                        await asyncio.sleep(pause)
                        continue
                return self._translate(doing, exc, missing_ok)
            except TimeoutError:
                raise StoreUnavailable(
                    f"The Kubernetes API did not answer {doing} within {self._timeout:g} s"
                ) from None
            except (aiohttp.ClientError, OSError) as exc:
                reason = str(exc) or type(exc).__name__
                raise StoreUnavailable(
                    f"The Kubernetes API could not be reached {doing}: {reason}"
                ) from None

    @staticmethod
    def _translate(doing: str, exc: ApiException, missing_ok: bool) -> None:
        if exc.status == 404 and missing_ok:
            return None
        if exc.status == 409:
            raise AlreadyExists()
        if exc.status == 422:
            raise Rejected(_describe(exc))
        raise StoreUnavailable(f"The Kubernetes API failed {doing}: {_describe(exc)}")

    async def _list(self, namespace: str, selector: str) -> list[Recording]:
        answer = await self._call(
            "listing Recordings",
            lambda: self._api.list_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                field_selector=selector,
                _request_timeout=self._timeout,
            ),
        )
        items: list[Recording] = answer.get("items") or []
        return items

    async def find(self, namespace: str, vhost: str, app: str, record_id: str) -> list[Recording]:
        return await self._list(namespace, _selector(vhost=vhost, app=app, id=record_id))

    async def list(self, namespace: str, vhost: str, app: str) -> list[Recording]:
        return await self._list(namespace, _selector(vhost=vhost, app=app))

    async def create(self, namespace: str, body: Recording) -> Recording:
        created: Recording = await self._call(
            "creating the Recording",
            lambda: self._api.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, body, _request_timeout=self._timeout
            ),
        )
        return created

    async def delete(self, namespace: str, name: str) -> bool:
        return await self.delete_returning(namespace, name) is not None

    async def delete_returning(self, namespace: str, name: str) -> Recording | None:
        """Deletes; the server's answer (the object, or a Status once it is gone), or None
        when it was gone already."""
        answer: Recording | None = await self._call(
            "deleting the Recording",
            lambda: self._api.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _request_timeout=self._timeout
            ),
            missing_ok=True,
        )
        return answer

    async def list_namespace(self, namespace: str) -> Recording:
        """Every Recording of a namespace: the list object, with its resourceVersion."""
        answer: Recording = await self._call(
            "listing Recordings",
            lambda: self._api.list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, _request_timeout=self._timeout
            ),
        )
        return answer

    async def open_watch(
        self, namespace: str, resource_version: str, timeout_seconds: int
    ) -> AsyncIterator[Recording]:
        """Opens a watch of a namespace's Recordings after ``resource_version``; its events
        until the server ends it. Raises :class:`StoreUnavailable` (``gone`` when the version
        is too old and a fresh list is needed), on opening or while reading."""
        response = await self._call(
            "watching Recordings",
            lambda: self._api.list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL,
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_seconds,
                _preload_content=False,
                _request_timeout=timeout_seconds + 30,
            ),
        )
        if response.status != 200:
            body = await response.text()
            response.release()
            raise StoreUnavailable(
                f"The Kubernetes API failed watching Recordings: {response.status} {body}",
                gone=response.status == 410,
            )
        return _events(response)


async def _events(response: Any) -> AsyncIterator[Recording]:
    """Watch events, one JSON object per line, read in chunks of any size (a line may be
    longer than aiohttp's readline limit)."""
    pending = b""
    try:
        async for chunk in response.content.iter_any():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    event: Recording = json.loads(line)
                    yield event
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise StoreUnavailable(f"The Kubernetes watch broke: {reason}") from None
    finally:
        response.release()
