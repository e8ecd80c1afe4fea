"""Puts the selected tracks' packets in decode order before they reach the splitter.

Sources interleave loosely: after the keyframe that starts a new file, an audio packet stamped a
little earlier may still arrive. Written to the new file, it would start before 0 (discontinuity)
or overlap the previous file (continuity). Holding packets until every track has caught up (or
``max_wait`` has passed, for a track that went quiet) makes each split exact: every packet before
the split keyframe's DTS goes to the old file, every packet after it to the new one.
"""

from __future__ import annotations

import heapq
from typing import Any


class Sample:
    """One packet on the output clock (microseconds)."""

    __slots__ = ("dts", "duration", "key", "packet", "pts", "slot")

    def __init__(
        self, dts: int, slot: int, pts: int, duration: int, key: bool, packet: Any
    ) -> None:
        self.dts = dts
        self.slot = slot
        self.pts = pts
        self.duration = duration
        self.key = key
        self.packet = packet


class Interleaver:
    def __init__(self, slots: int, max_wait_us: int = 1_000_000) -> None:
        #: (dts, arrival order, sample): tuples compare in C, the order breaks ties stably.
        self._heap: list[tuple[int, int, Sample]] = []
        self._seen: list[int | None] = [None] * slots
        self._unseen = slots
        #: The smallest "latest DTS" over all tracks, once every track has been seen.
        self._floor: int | None = None
        self._newest = 0
        self._order = 0
        self._max_wait = max_wait_us

    def __len__(self) -> int:
        return len(self._heap)

    def admit(self, slot: int, dts: int) -> bool:
        """Notes a packet's arrival; True when it may be written at once, before anything held
        (nothing is held and every track has reached its DTS: the common case for an
        interleaved source). Otherwise the caller passes it to :meth:`hold`.

        Split from :meth:`push` so that the common case allocates nothing: the floor moves only
        when the slowest track advances, so ``min`` runs about once per packet of that track.
        """
        seen = self._seen
        previous = seen[slot]
        if previous is None or dts > previous:
            seen[slot] = dts
            floor = self._floor
            if floor is None:
                if previous is None:
                    self._unseen -= 1
                if not self._unseen:
                    self._floor = min(seen)  # type: ignore[type-var]
            elif previous == floor:
                self._floor = min(seen)  # type: ignore[type-var]
        if dts > self._newest:
            self._newest = dts
        floor = self._floor
        return not self._heap and floor is not None and dts <= floor

    def hold(self, sample: Sample) -> list[Sample]:
        """Holds a sample :meth:`admit` did not let through; returns the samples that are now
        safe to write, in DTS order."""
        self._order += 1
        heap = self._heap
        heapq.heappush(heap, (sample.dts, self._order, sample))
        floor = self._floor
        oldest_allowed = self._newest - self._max_wait
        ready: list[Sample] = []
        while heap:
            head = heap[0][0]
            if (floor is None or head > floor) and head >= oldest_allowed:
                break
            ready.append(heapq.heappop(heap)[2])
        return ready

    def push(self, sample: Sample) -> list[Sample]:
        """Adds a sample; returns the samples that are now safe to write, in DTS order."""
        if self.admit(sample.slot, sample.dts):
            return [sample]
        return self.hold(sample)

    def drain(self) -> list[Sample]:
        """Everything still held, in DTS order (the stream ended or the recorder stops)."""
        heap = self._heap
        return [heapq.heappop(heap)[2] for _ in range(len(heap))]
