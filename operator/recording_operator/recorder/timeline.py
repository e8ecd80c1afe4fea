"""One output clock for the whole recording, across reconnects and source timestamp jumps.

Sources restart their timestamps when a publisher reconnects, wrap them (MPEG-TS every 26.5 h),
or jump when an encoder restarts without dropping the connection. Muxers refuse a DTS that goes
backwards, and players show a jump as a freeze. So each packet's source time is mapped onto an
output clock, in microseconds, that starts where the previous session ended:

* a session is anchored on its first default-track keyframe (the first thing any file holds);
* a jump inside a session (backwards, or forwards by more than ``max_gap``) re-anchors the stream
  that shows it so it continues where it left off; the other streams adopt that same offset when
  it fits them too, which keeps audio and video in sync across the splice.

Small backward steps (duplicate timestamps from a sloppy encoder) are left to the writer, which
keeps each output stream's DTS strictly increasing tick by tick.
"""

from __future__ import annotations

#: Tolerated distance between where a stream was and where the adopted offset puts it.
_ADOPT_WITHIN_US = 1_000_000


class Timeline:
    def __init__(
        self,
        origin_us: int = 0,
        *,
        max_gap_us: int = 10_000_000,
        max_backstep_us: int = 500_000,
    ) -> None:
        self._end = origin_us
        self._max_gap = max_gap_us
        self._max_backstep = max_backstep_us
        self._session: int | None = None
        # Per track (slot), grown on demand: the offset in use, where the next packet is
        # expected on the source clock, and where the track ended on the output clock.
        self._offsets: list[int | None] = []
        self._expected_in: list[int | None] = []
        self._end_out: list[int | None] = []
        self._last_splice_offset: int | None = None
        self.splices = 0

    @property
    def anchored(self) -> bool:
        return self._session is not None

    def start_session(self) -> None:
        self._session = None
        self._offsets = []
        self._expected_in = []
        self._end_out = []
        self._last_splice_offset = None

    def anchor(self, source_us: int) -> None:
        """Maps ``source_us`` (the session's first keyframe) to the end of the output so far."""
        self._session = self._end - source_us

    def _grow(self, slot: int) -> None:
        missing = slot + 1 - len(self._offsets)
        self._offsets.extend([None] * missing)
        self._expected_in.extend([None] * missing)
        self._end_out.extend([None] * missing)

    def map(self, slot: int, dts_us: int, duration_us: int) -> int | None:
        """The output-clock offset to add to this packet's source DTS and PTS, or None before the
        session is anchored."""
        if self._session is None:
            return None
        if slot >= len(self._offsets):
            self._grow(slot)
        offset = self._offsets[slot]
        if offset is None:
            offset = self._offsets[slot] = self._session
        expected = self._expected_in[slot]
        if expected is not None:
            delta = dts_us - expected
            if delta < -self._max_backstep or delta > self._max_gap:
                offset = self._offsets[slot] = self._splice(slot, dts_us)
        self._expected_in[slot] = dts_us + duration_us
        end = dts_us + offset + duration_us
        self._end_out[slot] = end
        if end > self._end:
            self._end = end
        return offset

    def _splice(self, slot: int, dts_us: int) -> int:
        self.splices += 1
        resume_at = self._end_out[slot]
        if resume_at is None:
            resume_at = self._end
        shared = self._last_splice_offset
        if shared is not None and abs(dts_us + shared - resume_at) <= _ADOPT_WITHIN_US:
            return shared
        offset = resume_at - dts_us
        self._last_splice_offset = offset
        return offset
