"""How kopf logs in: with the same target (flag, ``$KUBECONFIG`` or in-cluster) as our own client.

kopf's stock login handlers read ``$KUBECONFIG`` or the pod's service account on their own;
the operator instead derives kopf's credentials from ``kube.connection.connect`` so that
``--kubeconfig`` (for example a ServiceAccount-token kubeconfig in tests and in the embedded
mode) means the same identity for kopf's watches and for the pods the handlers create. kopf
calls this again on a 401, which picks up a rotated in-cluster token.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from ..kube.connection import KubeTarget, connect


async def connection_info(target: KubeTarget) -> kopf.ConnectionInfo:
    api = await connect(target)
    try:
        conf = api.configuration
        header: str | None = None
        for key in ("BearerToken", "authorization"):
            value: Any = conf.get_api_key_with_prefix(key)
            if inspect.isawaitable(value):
                value = await value
            if value:
                header = str(value)
                break
        scheme: str | None = None
        token: str | None = None
        if header:
            parts = header.split(" ", 1)
            scheme, token = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        return kopf.ConnectionInfo(
            server=str(conf.host),
            ca_path=conf.ssl_ca_cert or None,
            insecure=not conf.verify_ssl,
            username=conf.username or None,
            password=conf.password or None,
            scheme=scheme,
            token=token,
            certificate_path=conf.cert_file or None,
            private_key_path=conf.key_file or None,
            proxy_url=conf.proxy or None,
        )
    finally:
        await api.close()


def login_handler(target: KubeTarget) -> Callable[..., Awaitable[kopf.ConnectionInfo]]:
    async def login(**_: Any) -> kopf.ConnectionInfo:
        return await connection_info(target)

    return login
