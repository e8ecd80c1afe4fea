"""The runner's knobs; the defaults are a kubelet's, tests shorten the waits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class KubeletSettings:
    #: Pods naming one of these schedulers (or none, i.e. default-scheduler) get bound here.
    scheduler_names: frozenset[str] = frozenset({"default-scheduler"})
    #: CrashLoopBackOff: first delay, doubled per restart up to the maximum; a run longer than
    #: ``backoff_reset`` starts over.
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    backoff_reset: float = 600.0
    #: How often a pod waiting on a missing ConfigMap/Secret/volume retries (doubling, capped).
    config_retry_initial: float = 1.0
    config_retry_max: float = 10.0
    #: Lease renewal; the node's Ready condition is re-posted every ``status_interval``.
    heartbeat_interval: float = 10.0
    status_interval: float = 60.0
    lease_duration_seconds: int = 40
    #: Tokens are re-requested at this fraction of their lifetime.
    token_refresh_fraction: float = 0.8
    #: Caps every pod's grace period when the runner itself stops (None: the pod's own).
    stop_grace: float | None = None
    #: The least time SIGTERM gets before SIGKILL, whatever the grace period says.
    minimum_grace: float = 2.0
    #: Added to every container's environment before its own env (e.g. PYTHONUNBUFFERED).
    base_env: Mapping[str, str] = field(default_factory=dict)
    #: Replaces the machine's figures in the node's capacity (``cpu``, ``memory``, ``pods``):
    #: tests make a small node; pods are bound only while their requests fit.
    capacity: Mapping[str, str] = field(default_factory=dict)
    #: Timeout of one API call.
    request_timeout: float = 30.0
    #: How long the server keeps one watch request open; the watch then resumes from the
    #: last resourceVersion seen.
    watch_timeout_seconds: int = 290


class Backoff:
    """Delays between restarts of one container."""

    def __init__(self, initial: float, maximum: float, reset_after: float) -> None:
        self.initial, self.maximum, self.reset_after = initial, maximum, reset_after
        self.failures = 0

    def next(self, ran_for: float) -> float:
        if ran_for >= self.reset_after:
            self.failures = 0
        delay = min(self.initial * 2.0 ** self.failures, self.maximum)
        self.failures += 1
        return delay
