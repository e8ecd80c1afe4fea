"""The few Kubernetes calls the handlers make themselves, through kubernetes_asyncio.

kopf does the watching, the finalizer and its own bookkeeping; everything else (pods, the
Recording's status and labels) goes through here, as plain dicts, so the handlers read like
the manifests they produce and the exact verbs used match the chart's RBAC rules:
recordings get/patch, recordings/status patch, pods get/create/delete.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from ..model.resource import GROUP, PLURAL, VERSION

#: A dict body would otherwise be sent as a JSON patch (the generated client's first choice).
_MERGE: dict[str, Any] = {"_content_type": "application/merge-patch+json"}


class Conflict(Exception):
    """The object changed since it was read (resourceVersion precondition failed)."""


def status_of(exc: BaseException) -> int | None:
    return exc.status if isinstance(exc, ApiException) else None


def message_of(exc: BaseException) -> str:
    """The API server's own message (e.g. which field of the pod it refused)."""
    if isinstance(exc, ApiException) and exc.body:
        try:
            body = json.loads(exc.body)
        except ValueError:
            return f"{exc.status} {exc.reason}"
        return str(body.get("message") or f"{exc.status} {exc.reason}")
    return str(exc)


class KubeApi:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._client = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)

    def _plain(self, obj: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._client.sanitize_for_serialization(obj)
        return result

    async def get_recording(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = await self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return body

    async def patch_recording(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """A merge patch of the Recording's metadata (labels, annotations); the new object."""
        result: dict[str, Any] = await self._custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, body, **_MERGE
        )
        return result

    async def patch_status(
        self,
        namespace: str,
        name: str,
        body: dict[str, Any],
        resource_version: str | None = None,
    ) -> None:
        """A merge patch through the status subresource.

        With ``resource_version`` it applies only to that version of the object: used where
        a value must be written at most once (transactionId, createdTime).
        """
        if resource_version is not None:
            body = {**body, "metadata": {"resourceVersion": resource_version}}
        try:
            await self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, body, **_MERGE
            )
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict(message_of(exc)) from exc
            raise

    async def read_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            pod = await self._core.read_namespaced_pod(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return self._plain(pod)

    async def create_pod(self, namespace: str, body: dict[str, Any]) -> bool:
        """True if created, False if a pod of that name already exists."""
        manifest: Any = body  # the client serialises plain dicts as they are
        try:
            await self._core.create_namespaced_pod(namespace, manifest)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    async def delete_pod(
        self, namespace: str, name: str, *, grace_seconds: int, uid: str | None = None
    ) -> bool:
        """False if the pod was already gone (or is another pod by now, with ``uid``)."""
        options: Any = {"gracePeriodSeconds": grace_seconds}
        if uid is not None:
            options["preconditions"] = {"uid": uid}
        try:
            await self._core.delete_namespaced_pod(name, namespace, body=options)
        except ApiException as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True
