"""Delivery's view of Recordings through the Kubernetes API.

Three things, with exactly the rights the chart grants the delivery ServiceAccount: the
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

import base64
import logging
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from ..kube.errors import KubeError, NotFound, translate
from ..model.naming import recording_name
from ..model.resource import API_VERSION, GROUP, KIND, PLURAL, VERSION
from ..model.timefmt import now as utc_now

log = logging.getLogger(__name__)

COMPONENT = "recording-operator-delivery"
_MERGE: dict[str, Any] = {"_content_type": "application/merge-patch+json"}


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
    def __init__(self, api_client: client.ApiClient) -> None:
        self._client = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)

    async def close(self) -> None:
        await self._client.close()

    async def transitions(self, namespace: str) -> list[Transition]:
        try:
            listing = await self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL)
        except Exception as exc:
            raise translate(exc, f"listing Recordings in {namespace}") from exc
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
            recording = await self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("cannot read Recording %s/%s: %s", namespace, name,
                            translate(exc, "reading"))
            return
        now = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
        body: Any = {
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {"apiVersion": API_VERSION, "kind": KIND, "name": name,
                               "namespace": namespace,
                               "uid": recording["metadata"].get("uid"),
                               "resourceVersion": recording["metadata"].get("resourceVersion")},
            "reason": reason, "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT, "firstTimestamp": now, "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self._core.create_namespaced_event(namespace, body)
        except Exception as exc:
            log.warning("cannot post Event %s on %s/%s: %s", reason, namespace, name,
                        translate(exc, "posting an Event"))

    async def patch_delivery(self, namespace: str, vhost: str, app: str, record_id: str,
                             delivery: dict[str, Any]) -> bool:
        """Writes ``status.delivery``; False when the Recording is gone."""
        name = recording_name(vhost, app, record_id)
        try:
            await self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, {"status": {"delivery": delivery}},
                **_MERGE)
        except Exception as exc:
            error = translate(exc, f"writing the delivery status of {namespace}/{name}")
            if isinstance(error, NotFound):
                return False
            raise error from exc
        return True

    async def secret(self, namespace: str, name: str, key: str) -> str:
        """One key of a Secret, decoded; LookupError naming what is missing."""
        try:
            secret = await self._core.read_namespaced_secret(name, namespace)
        except Exception as exc:
            error = translate(exc, f"reading Secret {namespace}/{name}")
            raise LookupError(str(error)) from exc
        data = secret.data or {}
        if key not in data:
            raise LookupError(f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode()


__all__ = ["KubeError", "Recordings", "Transition"]
