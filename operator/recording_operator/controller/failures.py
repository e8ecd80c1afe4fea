"""When to replace a failed recorder pod, and when to give up.

The history of recent pod failures lives in an annotation on the Recording, not in memory, so
an operator restart neither forgets a crash loop nor counts one pod's failure twice (each
failure is keyed by the failed pod's uid). Pure: the caller passes the clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..model.resource import GROUP

ANNOTATION = f"{GROUP}/pod-failures"


@dataclass(frozen=True)
class Backoff:
    """Exponential replacement delays and the give-up rule."""

    initial: float = 5.0
    maximum: float = 300.0
    #: This many failures within ``window`` seconds end the Recording in state ``error``.
    limit: int = 5
    window: float = 600.0

    def delay(self, recent: int) -> float:
        """The wait before replacing the pod after the ``recent``-th failure in the window."""
        if recent <= 0:
            return 0.0
        return float(min(self.initial * 2 ** (recent - 1), self.maximum))

    def exhausted(self, recent: int) -> bool:
        return recent >= self.limit


@dataclass(frozen=True)
class Failure:
    pod: str
    at: float


@dataclass(frozen=True)
class FailureHistory:
    failures: tuple[Failure, ...] = field(default_factory=tuple)

    @classmethod
    def from_annotations(cls, annotations: dict[str, Any] | None) -> FailureHistory:
        """Tolerates a missing or hand-edited annotation: it only ever delays a replacement."""
        text = (annotations or {}).get(ANNOTATION)
        if not text:
            return cls()
        try:
            items = json.loads(text)
            return cls(tuple(Failure(str(i["pod"]), float(i["at"])) for i in items))
        except (ValueError, TypeError, KeyError):
            return cls()

    def to_annotation(self) -> str:
        return json.dumps([{"pod": f.pod, "at": round(f.at, 3)} for f in self.failures])

    def has(self, pod_uid: str) -> bool:
        return any(f.pod == pod_uid for f in self.failures)

    def add(self, pod_uid: str, at: float, window: float) -> FailureHistory:
        """With this failure, and without those that fell out of the window."""
        kept = tuple(f for f in self.failures if at - f.at < window)
        return FailureHistory((*kept, Failure(pod_uid, at)))

    def recent(self, now: float, window: float) -> int:
        return sum(1 for f in self.failures if now - f.at < window)

    def replace_at(self, backoff: Backoff, now: float) -> float:
        """The earliest wall-clock time a replacement pod may be created."""
        if not self.failures:
            return now
        last = max(f.at for f in self.failures)
        return last + backoff.delay(self.recent(last, backoff.window))
