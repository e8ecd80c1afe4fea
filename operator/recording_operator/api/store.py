"""Where the API keeps tasks: Recording resources in Kubernetes.

The routes see only :class:`RecordingStore`; :class:`KubernetesStore` answers it with one call
of the shared Recording client (``kube.recordings``) per operation, and the watch-backed cache
(``api.cache``) answers ``records`` from memory in front of it. A cache keeps read-your-writes
for a client: ``create``/``delete`` apply their result to it before returning.

Finding a vhost/app's Recordings uses field selectors on ``spec.vhost``/``spec.app``/``spec.id``
(the CRD declares them ``selectableFields``), not the vhost/app labels: the spec is immutable
and always there (the CRD defaults vhost and app), whereas a Recording made with kubectl may
lack the labels until the operator adds them, and labels can be edited. The API server filters,
so only the matching Recordings cross the wire.

The Kubernetes errors (``kube.errors``) become the store's three outcomes here, and only here:
a name taken, a Recording refused, or the API server unavailable (503 for the client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from ..kube.connection import connect
from ..kube.errors import Conflict, Expired, Forbidden, Invalid, KubeError, TimedOut
from ..kube.recordings import NoVersionColumn, Recordings
from ..kube.target import KubeTarget

Recording = dict[str, Any]
T = TypeVar("T")

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


class QuotaExceeded(Exception):
    """A ResourceQuota of the namespace allows no more Recordings (the API server's message)."""


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

    async def by_name(self, namespace: str, name: str) -> Recording | None:
        """The Recording of that name, read from the API server (None when there is none)."""
        ...

    async def annotate(self, namespace: str, name: str, annotations: dict[str, str]) -> bool:
        """Merge-patches annotations onto a Recording; False when it is gone."""
        ...

    async def close(self) -> None: ...


def escape_selector_value(value: str) -> str:
    """Escapes a field selector value as Kubernetes' ``fields.EscapeValue`` does."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _selector(**fields: str) -> str:
    return ",".join(f"spec.{key}={escape_selector_value(value)}" for key, value in fields.items())


class KubernetesStore:
    """Recordings through the Kubernetes API, one call per operation."""

    def __init__(
        self,
        recordings: Recordings,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._recordings = recordings
        self._timeout = timeout
        self._close = close

    @classmethod
    async def connect(
        cls, target: KubeTarget, call_timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> KubernetesStore:
        api_client = await connect(target)
        return cls(Recordings(api_client, budget=call_timeout), call_timeout, api_client.close)

    async def close(self) -> None:
        if self._close is not None:
            await self._close()

    async def _answer(self, doing: str, pending: Awaitable[T], *, creating: bool = False) -> T:
        """The call's result, its Kubernetes error as the store's own (the one translation)."""
        try:
            return await pending
        except Conflict:
            if creating:
                raise AlreadyExists() from None
            raise StoreUnavailable(f"The Kubernetes API refused {doing}: a conflict") from None
        except Invalid as exc:
            if creating:
                raise Rejected(exc.detail) from None
            raise StoreUnavailable(f"The Kubernetes API failed {doing}: {exc.detail}") from None
        except Forbidden as exc:
            if creating and "exceeded quota" in exc.detail:
                raise QuotaExceeded(exc.detail) from None
            raise StoreUnavailable(f"The Kubernetes API failed {doing}: {exc.detail}") from None
        except TimedOut:
            raise StoreUnavailable(
                f"The Kubernetes API did not answer {doing} within {self._timeout:g} s"
            ) from None
        except KubeError as exc:
            if exc.status is None:
                raise StoreUnavailable(
                    f"The Kubernetes API could not be reached {doing}: {exc.detail}"
                ) from None
            raise StoreUnavailable(
                f"The Kubernetes API failed {doing}: {exc.detail}", gone=isinstance(exc, Expired)
            ) from None

    async def _list(self, namespace: str, selector: str) -> list[Recording]:
        answer = await self._answer(
            "listing Recordings", self._recordings.list(namespace, field_selector=selector)
        )
        items: list[Recording] = answer.get("items") or []
        return items

    async def find(self, namespace: str, vhost: str, app: str, record_id: str) -> list[Recording]:
        return await self._list(namespace, _selector(vhost=vhost, app=app, id=record_id))

    async def list(self, namespace: str, vhost: str, app: str) -> list[Recording]:
        return await self._list(namespace, _selector(vhost=vhost, app=app))

    async def create(self, namespace: str, body: Recording) -> Recording:
        return await self._answer(
            "creating the Recording", self._recordings.create(namespace, body), creating=True
        )

    async def delete(self, namespace: str, name: str) -> bool:
        return await self.delete_returning(namespace, name) is not None

    async def by_name(self, namespace: str, name: str) -> Recording | None:
        # a LIST by name rather than a GET: the API's rights stay list/watch/create/delete/patch
        found = await self._list(namespace, f"metadata.name={escape_selector_value(name)}")
        return found[0] if found else None

    async def annotate(self, namespace: str, name: str, annotations: dict[str, str]) -> bool:
        patched = await self._answer(
            "annotating the Recording",
            self._recordings.patch(namespace, name, {"metadata": {"annotations": annotations}}),
        )
        return patched is not None

    async def delete_returning(self, namespace: str, name: str) -> Recording | None:
        """Deletes; the server's answer (the object, or a Status once it is gone), or None
        when it was gone already."""
        return await self._answer(
            "deleting the Recording", self._recordings.delete(namespace, name)
        )

    async def collection_version(self, namespace: str) -> str:
        """The current resourceVersion of a namespace's Recordings: a consistent LIST of one
        item, which the API server answers from its watch cache once that cache is current."""
        answer = await self._answer(
            "reading the Recordings' version", self._recordings.list(namespace, limit=1)
        )
        return str((answer.get("metadata") or {}).get("resourceVersion") or "")

    async def collection_versions(self, namespace: str) -> tuple[str, dict[str, str]] | None:
        """The namespace's Recordings as the API server has them now: the list's
        resourceVersion and each Recording's, by name (a consistent LIST of one printer
        column). None when the installed CRD predates that column."""
        try:
            return await self._answer(
                "listing the Recordings' versions", self._recordings.versions(namespace)
            )
        except NoVersionColumn:
            return None

    async def list_namespace(self, namespace: str) -> Recording:
        """Every Recording of a namespace: the list object, with its resourceVersion."""
        return await self._answer("listing Recordings", self._recordings.list(namespace))

    async def open_watch(
        self, namespace: str, resource_version: str, timeout_seconds: int
    ) -> AsyncIterator[Recording]:
        """Opens a watch of a namespace's Recordings after ``resource_version``; its events
        until the server ends it. Raises :class:`StoreUnavailable` (``gone`` when the version
        is too old and a fresh list is needed), on opening or while reading."""
        events = await self._answer(
            "watching Recordings",
            self._recordings.watch(namespace, resource_version, timeout_seconds),
        )
        return _translated(events)


async def _translated(events: AsyncIterator[Recording]) -> AsyncIterator[Recording]:
    """The watch's events; a break becomes :class:`StoreUnavailable`."""
    try:
        async for event in events:
            yield event
    except KubeError as exc:
        raise StoreUnavailable(f"The Kubernetes watch broke: {exc.detail}") from None
    finally:
        await events.aclose()  # type: ignore[attr-defined]
