"""The operator's typed settings (``running.configure_kopf`` turns them into kopf's).

Everything that decides behaviour a user or a test can observe (which namespaces, how long a
stop may take, how fast a crashing recorder is replaced) is a field here with a flag in
``cli/run_cmd.py``, so tests run the real operator with short timeouts instead of patching it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from ..kube.target import KubeTarget
from ..model.config import Config
from ..model.reporting import DEFAULT_BUDGET
from ..model.resource import LABEL_MANAGED_BY, LABEL_RECORDING, MANAGED_BY
from .failures import Backoff

#: Only recorder pods are watched: the API server filters, so other pods cost nothing.
POD_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_RECORDING}"


@dataclass(frozen=True)
class OperatorSettings:
    config: Config
    kube: KubeTarget = field(default_factory=KubeTarget)
    #: Namespaces to watch; empty (and not ``all_namespaces``): those the config names.
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    #: A kopf peering name for several replicas; None: standalone (one replica, Recreate).
    peering: str | None = None
    liveness_port: int | None = 8080
    metrics_port: int | None = 9090
    bind_address: str = "0.0.0.0"
    #: How long a stop may take before the pod is force-deleted; None: grace period + 30 s.
    stop_timeout: float | None = None
    #: The longest interval between checks of a stopping Recording (they start at 0.25 s).
    stop_poll: float = 2.0
    backoff: Backoff = field(default_factory=Backoff)
    #: Retry delay of a handler that met a transient API error.
    retry_delay: float = 5.0
    #: A recorder pod not running this long after its creation (stuck Pending, in
    #: ImagePullBackOff, CreateContainerConfigError…) ends its Recording in ``error``; 0: never.
    pod_start_timeout: float = 300.0
    #: Progress-only status writes per second shared out among the recorders
    #: (``model.reporting``); 0: every recorder reports at the floor interval.
    status_writes_per_second: float = DEFAULT_BUDGET
    instance: str = field(default_factory=socket.gethostname)

    def watched_namespaces(self) -> list[str]:
        return sorted(set(self.namespaces)) if self.namespaces else self.config.namespaces()

    def start_check_interval(self) -> float:
        """How often a Recording whose pod has not started looks at it again: a fifth of the
        start timeout, between 0.5 and 10 s (a held-up pod is reported within that)."""
        return min(10.0, max(0.5, self.pod_start_timeout / 5))

    def effective_stop_timeout(self) -> float:
        if self.stop_timeout is not None:
            return self.stop_timeout
        return float(self.config.recorder.termination_grace_period_seconds + 30)
