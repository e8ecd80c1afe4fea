"""The Recording resource through kubernetes_asyncio: get, list, create, delete, patch, patch
status and watch, as plain dicts.

The REST API's store and the operator use this one client (the recorder, which must not load
kubernetes_asyncio, has ``kube.rest``). Failures are :mod:`~.errors` errors; each method says
which outcome is an answer rather than an error (a Recording already gone, a name taken).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from ..model.resource import GROUP, PLURAL, VERSION, VERSION_COLUMN
from .calling import MERGE_PATCH, call, call_unless_gone
from .errors import Unavailable, from_status

Obj = dict[str, Any]
#: A Table of the printer columns only: no object, a few bytes per Recording.
_TABLE = "application/json;as=Table;g=meta.k8s.io;v=v1"


class NoVersionColumn(Exception):
    """The installed CRD has no :data:`~..model.resource.VERSION_COLUMN` (it predates it)."""


class Recordings:
    """Recordings of any namespace. ``budget`` bounds each call (429 retries included) and is
    sent as the request timeout; None: the client's default, no 429 retry."""

    def __init__(self, api_client: client.ApiClient, budget: float | None = None) -> None:
        self._api_client = api_client
        self._objects = client.CustomObjectsApi(api_client)
        self._budget = budget
        self._timeout: dict[str, Any] = {} if budget is None else {"_request_timeout": budget}

    async def get(self, namespace: str, name: str) -> Obj | None:
        """The Recording, or None when there is none of that name."""
        found: Obj | None = await call_unless_gone(
            "reading the Recording",
            lambda: self._objects.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, **self._timeout
            ),
            self._budget,
        )
        return found

    async def list(self, namespace: str, field_selector: str | None = None,
                   limit: int | None = None) -> Obj:
        """The list object (``items`` and the list's ``metadata.resourceVersion``); a
        consistent read (no resourceVersion is sent). ``limit=1`` learns the collection's
        current resourceVersion cheaply."""
        selector: dict[str, Any] = {} if field_selector is None else {
            "field_selector": field_selector
        }
        if limit is not None:
            selector["limit"] = limit
        answer: Obj = await call(
            "listing Recordings",
            lambda: self._objects.list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, **selector, **self._timeout
            ),
            self._budget,
        )
        return answer

    async def versions(self, namespace: str) -> tuple[str, dict[str, str]]:
        """The list's resourceVersion and each Recording's, by name: a consistent LIST as a
        Table of printer columns without the objects (a tenth of the bytes of a metadata-only
        LIST, and as much less of the API server's time). :class:`NoVersionColumn` when the
        installed CRD lacks the column."""
        doing = "listing the Recordings' versions"
        response = await call(
            doing,
            lambda: self._api_client.call_api(
                f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{PLURAL}", "GET",
                {"namespace": namespace}, [("includeObject", "None")], {"Accept": _TABLE},
                auth_settings=["BearerToken"], _preload_content=False,
                _request_timeout=self._budget,
            ),
            self._budget,
        )
        table: Obj = json.loads(await _read_ok(response, doing))
        names = [column.get("name") for column in table.get("columnDefinitions") or []]
        if "Name" not in names or VERSION_COLUMN not in names:
            raise NoVersionColumn(f"the Recording CRD has no {VERSION_COLUMN} column")
        name_at, version_at = names.index("Name"), names.index(VERSION_COLUMN)
        versions = {
            str(row["cells"][name_at]): str(row["cells"][version_at])
            for row in table.get("rows") or []
        }
        return str((table.get("metadata") or {}).get("resourceVersion") or ""), versions

    async def create(self, namespace: str, body: Obj) -> Obj:
        """The created Recording; :class:`~.errors.Conflict` when the name is taken."""
        created: Obj = await call(
            "creating the Recording",
            lambda: self._objects.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, body, **self._timeout
            ),
            self._budget,
        )
        return created

    async def delete(self, namespace: str, name: str) -> Obj | None:
        """Starts the deletion; the server's answer (the object, or a Status once it is gone),
        or None when it was gone already."""
        answer: Obj | None = await call_unless_gone(
            "deleting the Recording",
            lambda: self._objects.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, **self._timeout
            ),
            self._budget,
        )
        return answer

    async def patch(self, namespace: str, name: str, body: Obj) -> Obj | None:
        """A merge patch of the Recording (its labels, annotations); the new object, or None
        when it is gone."""
        patched: Obj | None = await call_unless_gone(
            "patching the Recording",
            lambda: self._objects.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, body, **MERGE_PATCH, **self._timeout
            ),
            self._budget,
        )
        return patched

    async def patch_status(
        self, namespace: str, name: str, body: Obj, resource_version: str | None = None
    ) -> Obj:
        """A merge patch through the status subresource.

        With ``resource_version`` it applies only to that version of the object
        (:class:`~.errors.Conflict` otherwise): used where a value must be written at most
        once, or decided on exactly that version.
        """
        if resource_version is not None:
            body = {**body, "metadata": {"resourceVersion": resource_version}}
        patched: Obj = await call(
            "patching the Recording's status",
            lambda: self._objects.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, body, **MERGE_PATCH, **self._timeout
            ),
            self._budget,
        )
        return patched

    async def watch(
        self, namespace: str, resource_version: str, timeout_seconds: int
    ) -> AsyncIterator[Obj]:
        """Opens a watch of a namespace's Recordings after ``resource_version``; its events
        until the server ends it. :class:`~.errors.Expired` when the version is too old (list
        afresh), :class:`~.errors.Unavailable` when it cannot open or breaks."""
        doing = "watching Recordings"
        response = await call(
            doing,
            lambda: self._objects.list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL,
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout_seconds,
                _preload_content=False,
                _request_timeout=timeout_seconds + 30,
            ),
            self._budget,
        )
        if response.status != 200:
            await _read_ok(response, doing)  # raises the refusal as our error
        return _events(response)


async def _read_ok(response: Any, doing: str) -> bytes:
    """The whole body of a raw (``_preload_content=False``) answer, which it releases. Raises
    what ``call`` would have: the refusal for a status other than 200, :class:`Unavailable`
    when the body breaks off."""
    try:
        raw: bytes = await response.read()
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise Unavailable(f"{doing}: the answer broke off: {reason}", detail=reason) from None
    finally:
        response.release()
    if response.status != 200:
        raise from_status(response.status, raw.decode(errors="replace"), doing=doing)
    return raw


async def _events(response: Any) -> AsyncIterator[Obj]:
    """Watch events, one JSON object per line, read in chunks of any size (a line may be
    longer than aiohttp's readline limit)."""
    pending = b""
    try:
        async for chunk in response.content.iter_any():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    event: Obj = json.loads(line)
                    yield event
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise Unavailable(f"the watch broke: {reason}", detail=reason) from None
    finally:
        response.release()
