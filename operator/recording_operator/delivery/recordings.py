"""Delivery's view of Recordings through the Kubernetes API (the project's ``kube`` layer).

Four things, with exactly the rights the chart grants the delivery ServiceAccount: the
Recording's own transitions (``list`` recordings: a transaction began, the task went to
``error``), Kubernetes Events on the Recording for every CloudEvent and for upload failures
(``create`` events; only while the Recording exists: ``get``), and the delivery-owned status
block ``status.delivery`` (``patch`` recordings/status with a merge patch naming only that
field, so neither the operator's nor the recorder's fields are touched), and the Secrets an app
names (``get`` secrets, limited by name in the chart).

Kubernetes is a window, not the source of truth: delivery keeps working from the volume and its
journal when the API is away, and a Kubernetes Event lost then is not retried (the CloudEvent
is).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..kube.connection import connect
from ..kube.errors import KubeError
from ..kube.events import Events
from ..kube.recordings import Recordings as RecordingsApi
from ..kube.secrets import Secrets
from ..kube.target import KubeTarget
from ..model.naming import recording_name

log = logging.getLogger(__name__)

COMPONENT = "recording-operator-delivery"


@dataclass(frozen=True)
class Transition:
    """A Recording as delivery cares about it: which transaction, and whether it failed."""

    namespace: str
    vhost: str
    app: str
    record_id: str
    stream: str
    transaction_id: str
    state: str
    message: str
    #: The first file of the transaction was opened (the recorder reported a start time).
    started: bool


class Recordings:
    """Opened with :meth:`open`; closed with :meth:`close`."""

    def __init__(self, api_client: Any) -> None:
        self._client = api_client
        self._recordings = RecordingsApi(api_client, budget=10.0)
        self._events = Events(api_client, COMPONENT)
        self._secrets = Secrets(api_client)

    @classmethod
    async def open(cls, target: KubeTarget | None = None) -> Recordings:
        return cls(await connect(target))

    async def close(self) -> None:
        await self._client.close()

    async def transitions(self, namespace: str) -> list[Transition]:
        listing = await self._recordings.list(namespace)
        found = []
        for item in listing.get("items", []):
            spec, status = item.get("spec") or {}, item.get("status") or {}
            txid = status.get("transactionId")
            if not txid or not spec.get("id"):
                continue
            found.append(Transition(
                namespace, spec.get("vhost", "default"), spec.get("app", "app"), spec["id"],
                (spec.get("stream") or {}).get("name", ""), txid, status.get("state") or "",
                status.get("message") or "", bool(status.get("startTime"))))
        return found

    async def post_event(self, namespace: str, vhost: str, app: str, record_id: str,
                         reason: str, message: str, *, warning: bool = False) -> None:
        """A Kubernetes Event on the Recording, if it still exists; failures are logged."""
        name = recording_name(vhost, app, record_id)
        try:
            recording = await self._recordings.get(namespace, name)
            if recording is not None:
                await self._events.post(recording, reason, message, warning=warning)
        except KubeError as exc:
            log.warning("cannot post Event %s on %s/%s: %s", reason, namespace, name, exc)

    async def patch_delivery(self, namespace: str, vhost: str, app: str, record_id: str,
                             delivery: dict[str, Any]) -> bool:
        """Writes ``status.delivery``; False when the Recording is gone."""
        name = recording_name(vhost, app, record_id)
        if await self._recordings.get(namespace, name) is None:
            return False
        await self._recordings.patch_status(namespace, name, {"status": {"delivery": delivery}})
        return True

    async def secret(self, namespace: str, name: str, key: str) -> str:
        """One key of a Secret, decoded; LookupError naming what is missing."""
        try:
            return await self._secrets.key(namespace, name, key)
        except (KubeError, KeyError) as exc:
            raise LookupError(str(exc).strip("'\"")) from exc


__all__ = ["KubeError", "Recordings", "Transition"]
