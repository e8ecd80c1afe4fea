"""Pods through kubernetes_asyncio: the operator's read, create and delete of recorder pods.

The verbs match the chart's RBAC rules for the operator (pods get/create/delete); kopf does the
watching. Each method says which outcome is an answer rather than an error.
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from .calling import call, call_unless_gone
from .errors import Conflict, NotFound

Obj = dict[str, Any]


class Pods:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._client = api_client
        self._core = client.CoreV1Api(api_client)

    async def read(self, namespace: str, name: str) -> Obj | None:
        """The pod as a plain dict, or None when there is none of that name."""
        pod = await call_unless_gone(
            f"reading pod {name}", lambda: self._core.read_namespaced_pod(name, namespace)
        )
        if pod is None:
            return None
        plain: Obj = self._client.sanitize_for_serialization(pod)
        return plain

    async def create(self, namespace: str, body: Obj) -> bool:
        """True if created, False if a pod of that name already exists."""
        manifest: Any = body  # the client serialises plain dicts as they are
        try:
            await call(
                f"creating pod {body['metadata']['name']}",
                lambda: self._core.create_namespaced_pod(namespace, manifest),
            )
        except Conflict:
            return False
        return True

    async def delete(
        self, namespace: str, name: str, *, grace_seconds: int, uid: str | None = None
    ) -> bool:
        """False if the pod was already gone (or is another pod by now, with ``uid``)."""
        options: Any = {"gracePeriodSeconds": grace_seconds}
        if uid is not None:
            options["preconditions"] = {"uid": uid}
        try:
            await call(
                f"deleting pod {name}",
                lambda: self._core.delete_namespaced_pod(name, namespace, body=options),
            )
        except (NotFound, Conflict):
            return False
        return True
