"""One key of a Secret through kubernetes_asyncio (the delivery process's S3 credentials and
webhook secrets, by name: the chart grants get on exactly those)."""

from __future__ import annotations

import base64

from kubernetes_asyncio import client

from .calling import call


class Secrets:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api_client)

    async def key(self, namespace: str, name: str, key: str) -> str:
        """The decoded value; KeyError naming the Secret when it lacks the key (a missing or
        unreadable Secret is a :mod:`~.errors` error)."""
        secret = await call(f"reading Secret {namespace}/{name}",
                            lambda: self._core.read_namespaced_secret(name, namespace))
        data = secret.data or {}
        if key not in data:
            raise KeyError(f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode()
