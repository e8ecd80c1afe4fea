"""What the runner knows about a pod's containers, and the pod status it reports from that.

Pure: the status is a function of the containers' states and the pod's spec, so the phase rules
(taken from the kubelet's) are tested without processes or an API server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

HOST_IP = "127.0.0.1"
POD_IP = "127.0.0.1"


def now() -> str:
    """An API timestamp (metav1.Time has whole seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """A MicroTime, as Leases want."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Terminated:
    exit_code: int
    reason: str
    started_at: str | None
    finished_at: str
    signal: int | None = None
    message: str | None = None
    container_id: str = ""

    def render(self) -> Obj:
        out: Obj = {"exitCode": self.exit_code, "reason": self.reason,
                    "finishedAt": self.finished_at}
        if self.started_at:
            out["startedAt"] = self.started_at
        if self.signal:
            out["signal"] = self.signal
        if self.message:
            out["message"] = self.message
        if self.container_id:
            out["containerID"] = self.container_id
        return out

    @classmethod
    def from_status(cls, data: Obj) -> Terminated:
        return cls(exit_code=int(data.get("exitCode", 0)), reason=data.get("reason") or "",
                   started_at=data.get("startedAt"), finished_at=data.get("finishedAt") or now(),
                   signal=data.get("signal"), message=data.get("message"),
                   container_id=data.get("containerID") or "")


def exit_of(returncode: int, started_at: str | None, container_id: str,
            message: str | None = None) -> Terminated:
    """A container's termination as Kubernetes reports it: killed by signal N is 128+N."""
    signal = -returncode if returncode < 0 else None
    code = 128 + signal if signal else returncode
    return Terminated(exit_code=code, reason="Completed" if code == 0 else "Error",
                      started_at=started_at, finished_at=now(), signal=signal,
                      message=message, container_id=container_id)


@dataclass
class ContainerState:
    name: str
    image: str = ""
    restart_count: int = 0
    waiting_reason: str | None = "ContainerCreating"
    waiting_message: str | None = None
    running_since: str | None = None
    terminated: Terminated | None = None
    last_terminated: Terminated | None = None
    ready: bool = False
    container_id: str = ""

    def set_running(self, container_id: str) -> None:
        self.waiting_reason = self.waiting_message = None
        self.terminated = None
        self.running_since = now()
        self.container_id = container_id

    def set_terminated(self, terminated: Terminated) -> None:
        self.waiting_reason = self.waiting_message = None
        self.running_since = None
        self.ready = False
        self.terminated = terminated

    def set_waiting(self, reason: str, message: str | None = None) -> None:
        """Waiting after a run keeps that run as ``lastState``, as a restart does."""
        if self.terminated is not None:
            self.last_terminated = self.terminated
            self.terminated = None
        self.running_since = None
        self.ready = False
        self.waiting_reason, self.waiting_message = reason, message

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def render(self) -> Obj:
        state: Obj
        if self.running_since is not None:
            state = {"running": {"startedAt": self.running_since}}
        elif self.terminated is not None:
            state = {"terminated": self.terminated.render()}
        else:
            waiting: Obj = {"reason": self.waiting_reason or "ContainerCreating"}
            if self.waiting_message:
                waiting["message"] = self.waiting_message
            state = {"waiting": waiting}
        out: Obj = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "started": self.running_since is not None,
            "restartCount": self.restart_count,
            "state": state,
            "lastState": ({"terminated": self.last_terminated.render()}
                          if self.last_terminated else {}),
        }
        if self.container_id:
            out["containerID"] = self.container_id
        return out


@dataclass
class PodState:
    containers: list[ContainerState]
    init_containers: list[ContainerState] = field(default_factory=list)
    restart_policy: str = "Always"
    start_time: str | None = None
    initialized: bool = False
    #: The node ended the pod (it was deleted, or the runner stopped): nothing restarts.
    ended: bool = False
    #: Why the node ended the pod, when that is not the pod's deletion.
    reason: str | None = None
    message: str | None = None
    sandbox_ready: bool = False
    _transitions: dict[str, tuple[str, str]] = field(default_factory=dict)

    def phase(self) -> str:
        """The kubelet's rules (pkg/kubelet/kubelet_pods.go getPhase), without sidecars.

        Once the node has ended the pod (deleted, or the runner stopped) nothing restarts, so
        the phase is terminal whatever the restart policy says.
        """
        policy = self.restart_policy
        if not self.initialized:
            failed_init = any(c.terminated and c.terminated.exit_code != 0
                              for c in self.init_containers)
            if self.ended or (failed_init and policy == "Never"):
                return "Failed"
            return "Pending"
        running = waiting = stopped = succeeded = 0
        for c in self.containers:
            if c.running:
                running += 1
            elif c.terminated is not None:
                stopped += 1
                succeeded += c.terminated.exit_code == 0
            elif c.last_terminated is not None:
                stopped += 1
            else:
                waiting += 1
        if self.ended and not running:
            return "Succeeded" if not waiting and stopped == succeeded else "Failed"
        if waiting:
            return "Pending"
        if running or policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"

    def terminal(self) -> bool:
        return self.phase() in ("Succeeded", "Failed")

    def _condition(self, kind: str, ok: bool, reason: str | None = None,
                   message: str | None = None) -> Obj:
        status = "True" if ok else "False"
        previous = self._transitions.get(kind)
        if previous is None or previous[0] != status:
            previous = (status, now())
            self._transitions[kind] = previous
        out: Obj = {"type": kind, "status": status, "lastProbeTime": None,
                    "lastTransitionTime": previous[1]}
        if not ok and reason:
            out["reason"] = reason
            if message:
                out["message"] = message
        return out

    def render(self) -> Obj:
        """The whole status, sent as a merge patch: unset fields are nulled, not left stale."""
        phase = self.phase()
        terminal = phase in ("Succeeded", "Failed")
        not_ready = [c.name for c in self.containers if not c.ready]
        ready = not not_ready and not terminal
        if terminal:
            ready_reason, ready_message = "PodCompleted", None
        else:
            ready_reason = "ContainersNotReady"
            ready_message = f"containers with unready status: [{' '.join(not_ready)}]"
        pending_init = [c.name for c in self.init_containers
                        if not (c.terminated and c.terminated.exit_code == 0)]
        conditions = [
            self._condition("PodReadyToStartContainers", self.sandbox_ready and not terminal),
            self._condition("Initialized", self.initialized or not pending_init,
                            "ContainersNotInitialized",
                            f"containers with incomplete status: [{' '.join(pending_init)}]"),
            self._condition("Ready", ready, ready_reason, ready_message),
            self._condition("ContainersReady", ready, ready_reason, ready_message),
            self._condition("PodScheduled", True),
        ]
        status: Obj = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": HOST_IP,
            "hostIPs": [{"ip": HOST_IP}],
            "podIP": POD_IP,
            "podIPs": [{"ip": POD_IP}],
            "startTime": self.start_time,
            "containerStatuses": [c.render() for c in self.containers],
            "reason": self.reason,
            "message": self.message,
        }
        if self.init_containers:
            status["initContainerStatuses"] = [c.render() for c in self.init_containers]
        return status


def previous_states(pod: Obj, key: str) -> dict[str, Obj]:
    """The container statuses an earlier runner reported, by container name."""
    return {s["name"]: s for s in (pod.get("status") or {}).get(key) or [] if "name" in s}
