"""Puts the selected tracks' packets in decode order before they reach the splitter.

Sources interleave loosely: after the keyframe that starts a new file, an audio packet stamped a
little earlier may still arrive. Written to the new file, it would start before 0 (discontinuity)
or overlap the previous file (continuity). Holding packets until every track has caught up (or
``max_wait`` has passed, for a track that went quiet) makes each split exact: every packet before
the split keyframe's DTS goes to the old file, every packet after it to the new one.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True, slots=True)
class Sample:
    """One packet on the output clock (microseconds)."""

    dts: int
    order: int
    slot: int = field(compare=False)
    pts: int = field(compare=False)
    duration: int = field(compare=False)
    key: bool = field(compare=False)
    packet: Any = field(compare=False)


class Interleaver:
    def __init__(self, slots: int, max_wait_us: int = 1_000_000) -> None:
        self._heap: list[Sample] = []
        self._seen = [None] * slots  # type: list[int | None]
        self._newest = 0
        self._max_wait = max_wait_us

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, sample: Sample) -> list[Sample]:
        """Adds a sample; returns the samples that are now safe to write, in DTS order."""
        heapq.heappush(self._heap, sample)
        seen = self._seen[sample.slot]
        if seen is None or sample.dts > seen:
            self._seen[sample.slot] = sample.dts
        if sample.dts > self._newest:
            self._newest = sample.dts
        ready: list[Sample] = []
        while self._heap:
            head = self._heap[0]
            if not self._caught_up(head.dts) and self._newest - head.dts <= self._max_wait:
                break
            ready.append(heapq.heappop(self._heap))
        return ready

    def _caught_up(self, dts: int) -> bool:
        return all(not (seen is None or seen < dts) for seen in self._seen)

    def drain(self) -> list[Sample]:
        """Everything still held, in DTS order (the stream ended or the recorder stops)."""
        out = [heapq.heappop(self._heap) for _ in range(len(self._heap))]
        return out
