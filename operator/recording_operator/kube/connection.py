"""How a component finds the Kubernetes API: an explicit URL, a kubeconfig, or in-cluster.

One place, so the API, the recorder and the embedded mode all accept the same flags and the
same environment (``KUBECONFIG``, ``KUBERNETES_SERVICE_HOST``) in the same order of preference.
"""

from __future__ import annotations

import os

from kubernetes_asyncio import client, config

from .target import KubeTarget


async def connect(target: KubeTarget | None = None) -> client.ApiClient:
    """An ApiClient for the target; the caller closes it."""
    target = target or KubeTarget()
    configuration = client.Configuration()
    if target.url:
        configuration.host = target.url
        if target.token:
            configuration.api_key = {"BearerToken": target.token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        configuration.verify_ssl = not target.insecure
    elif target.kubeconfig or os.environ.get("KUBECONFIG"):
        await config.load_kube_config(
            config_file=target.kubeconfig or os.environ["KUBECONFIG"],
            client_configuration=configuration,
        )
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        await config.load_kube_config(client_configuration=configuration)
    return client.ApiClient(configuration)
