"""Where a component finds the Kubernetes API, as plain data (no client library loaded).

Both ways of talking to the API read it: ``kube.connection`` (kubernetes_asyncio, for the API and
the operator) and ``kube.rest`` (the recorder's small status client, which must not pay for a
full Kubernetes client). The order of preference is the same for both: an explicit URL, then a
kubeconfig (``--kubeconfig`` or ``$KUBECONFIG``), then in-cluster (``KUBERNETES_SERVICE_HOST``
and the pod's projected ServiceAccount token), then ``~/.kube/config``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KubeTarget:
    """Where to connect. All empty: a kubeconfig from ``$KUBECONFIG``, else in-cluster."""

    url: str | None = None
    kubeconfig: str | None = None
    token: str | None = None
    insecure: bool = False
