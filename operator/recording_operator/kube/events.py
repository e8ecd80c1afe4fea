"""core/v1 Events through kubernetes_asyncio: a component posts what happened to an object
(``kubectl describe`` shows it). Used by the delivery process, whose Events are not kopf's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client

from .calling import call

Obj = dict[str, Any]


class Events:
    def __init__(self, api_client: client.ApiClient, component: str) -> None:
        self._core = client.CoreV1Api(api_client)
        self._component = component

    async def post(self, involved: Obj, reason: str, message: str, *,
                   warning: bool = False) -> None:
        """One Event about ``involved`` (an object as read: apiVersion, kind, metadata)."""
        meta = involved["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body: Any = {
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": involved["apiVersion"], "kind": involved["kind"],
                               "name": meta["name"], "namespace": meta["namespace"],
                               "uid": meta.get("uid"),
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": self._component},
            "reportingComponent": self._component, "reportingInstance": self._component,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }
        await call(f"posting Event {reason}",
                   lambda: self._core.create_namespaced_event(meta["namespace"], body))
