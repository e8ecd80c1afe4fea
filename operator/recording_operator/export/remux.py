"""The packet copy: segments in, one MPEG-TS or fragmented MP4 out, never transcoded.

Where it starts: on the last video keyframe at or before ``start`` (packets of the first
segment are held from each keyframe until one passes ``start``; at most a GOP). Where it ends:
at the first packet at or after ``end``.

Timestamps: each segment's packets are shifted so that it begins where the previous one ended,
so the output's timestamps are continuous across splits AND across gaps (a player never stalls
on a hole, and the file's duration is the media it holds). The gaps are not lost: the caller
reports them (the export's ``Recording-Gaps`` header and its log) by wall-clock time.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import av
import av.bitstream

from .segments import Segment

log = logging.getLogger(__name__)

FORMATS = {"mp4": "mp4", "ts": "mpegts"}
#: Fragmented MP4 a browser plays while it downloads: no seek back to write the index.
MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}

#: Opens a segment for reading: a path or a file object PyAV can demux.
Opener = Callable[[Segment], Any]


class Sink(Protocol):
    """Where the output goes: only written to, never sought (so it can be a pipe)."""

    def write(self, data: bytes, /) -> int: ...


@dataclass
class Summary:
    """What a remux wrote (for the log and the benchmark)."""

    packets: int = 0
    segments: int = 0
    #: Media seconds written (the output's duration).
    seconds: float = 0.0
    first_wall: datetime | None = None
    tracks: set[str] = field(default_factory=set)


class _Output:
    """The output container and its streams, made from the first segment's streams."""

    def __init__(self, sink: Sink, fmt: str) -> None:
        options = MP4_OPTIONS if fmt == "mp4" else {}
        self.container = av.open(sink, "w", format=FORMATS[fmt], options=options)
        self.fmt = fmt
        self.streams: dict[str, Any] = {}
        self.adts = False
        #: Per track, the output dts of the last packet, in seconds (must grow, in ticks).
        self.last_dts: dict[str, float] = {}
        self._rates: dict[str, float] = {}
        self._filters: dict[int, Any] = {}

    def prepare(self, sources: list[Any], ahead: list[Any]) -> None:
        """The output's tracks: one per kind of the first segment (all before any packet).
        MP4 wants AAC's AudioSpecificConfig in its header, where MPEG-TS carries ADTS headers
        on every packet: the config is read from the first ADTS header (``ahead``)."""
        if self.streams:
            return
        for source in sources:
            if source.type not in self.streams:
                self.streams[source.type] = self.container.add_stream_from_template(source)
        audio = self.streams.get("audio")
        if self.fmt == "mp4" and audio is not None and not audio.codec_context.extradata:
            first = next((bytes(p) for p in ahead if p.stream.type == "audio"), b"")
            if _is_adts(first):
                audio.codec_context.extradata = _audio_specific_config(first)
                self.adts = True

    def adapt(self, packet: Any) -> list[Any]:
        """The packet as the output wants it (ADTS headers stripped for MP4)."""
        if not self.adts or packet.stream.type != "audio" or not _is_adts(bytes(packet)):
            return [packet]
        key = id(packet.stream)
        if key not in self._filters:
            self._filters = {key: av.bitstream.BitStreamFilterContext(
                "aac_adtstoasc", packet.stream)}
        return list(self._filters[key].filter(packet))

    def stream_for(self, source: Any) -> Any | None:
        """The output track for a packet of ``source`` (None: a kind the output lacks)."""
        return self.streams.get(source.type)

    def mux(self, packet: Any) -> None:
        self.container.mux(packet)

    def rate(self, out: Any) -> float:
        """Ticks per second of ``out`` (asked only once a packet, so the header, is written)."""
        rate = self._rates.get(out.type)
        if rate is None:
            rate = self._rates[out.type] = float(1 / out.time_base)
        return rate

    def close(self) -> None:
        self.container.close()


def remux(segments: Iterable[Segment], start: datetime, end: datetime, sink: Sink,
          fmt: str, opener: Opener) -> Summary:
    """Writes [start, end) of ``segments`` (in order) to ``sink`` as ``fmt`` (mp4 or ts)."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    summary = Summary()
    output = _Output(sink, fmt)
    #: Output time (seconds) where the next segment begins.
    cursor = 0.0
    try:
        for segment in segments:
            if segment.finish <= start or segment.start >= end:
                continue
            source = opener(segment)
            try:
                with av.open(source, "r") as container:
                    cursor, done = _copy(container, segment, start, end, output, cursor,
                                         summary, first=summary.segments == 0)
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
            summary.segments += 1
            if done:
                break
    finally:
        output.close()
    summary.seconds = cursor
    return summary


def _copy(container: Any, segment: Segment, start: datetime, end: datetime, output: _Output,
          cursor: float, summary: Summary, *, first: bool) -> tuple[float, bool]:
    """Copies one segment's packets inside the range; returns the new cursor (output
    seconds) and whether the range's end was reached. Per packet only float and integer
    arithmetic: this loop is the export's cost (Fractions here made it 3x slower)."""
    inputs = [s for s in container.streams if s.type in ("video", "audio")]
    has_video = any(s.type == "video" for s in inputs)
    ahead, packets, file_first = _lookahead(container.demux(inputs))
    media_start = _anchor(container, segment, file_first)
    output.prepare(inputs, ahead)
    # the range's ends in this file's media seconds
    start_at = media_start + (start - segment.start).total_seconds()
    end_at_media = media_start + (end - segment.start).total_seconds()
    tbs = {s.index: float(s.time_base) for s in inputs}
    # input seconds -> output seconds; per stream as a whole number of its ticks
    shift = cursor - file_first
    deltas: dict[int, int] = {}
    # packets of the first segment held since the last keyframe, until one passes start
    held: list[Any] = []
    cutting = first and start > segment.start
    end_at = 0.0
    reached_end = False

    def emit(packet: Any) -> None:
        nonlocal end_at
        out = output.stream_for(packet.stream)
        if out is None:
            return
        index = packet.stream.index
        tb = tbs[index]
        delta = deltas.get(index)
        if delta is None:
            delta = deltas[index] = round(shift / tb)
        out_seconds = (packet.dts + delta) * tb
        # dts must grow in the output's time base too (coarser for MP4 audio: 1/44100 where
        # MPEG-TS counts 1/90000); a packet that would not is dropped -- in the recordings
        # seen, a 5-byte AAC frame a tick before the next one at a split
        last = output.last_dts.get(out.type)
        if last is not None:
            rate = output.rate(out)
            if round(out_seconds * rate) <= round(last * rate):
                log.debug("dropped a %s packet of %s going back in time", out.type,
                          segment.name)
                return
        output.last_dts[out.type] = out_seconds
        duration = (packet.duration or 0) * tb
        if summary.first_wall is None:
            summary.first_wall = _wall(segment, packet.dts * tb, media_start)
        for adapted in output.adapt(packet):
            if adapted.pts is not None:
                adapted.pts += delta
            adapted.dts += delta
            adapted.stream = out
            output.mux(adapted)
            summary.packets += 1
        summary.tracks.add(out.type)
        end_at = max(end_at, out_seconds + duration)

    def release() -> None:
        nonlocal shift
        shift = cursor - min(p.dts * tbs[p.stream.index] for p in held)
        deltas.clear()
        for kept in held:
            emit(kept)
        held.clear()

    for packet in packets:
        when = packet.dts * tbs[packet.stream.index]
        if when >= end_at_media:
            reached_end = True
            break
        if cutting:
            if when <= start_at:
                keyframe = packet.is_keyframe and packet.stream.type == "video"
                if keyframe or (not has_video and not held):
                    held[:] = [packet]
                elif held:
                    held.append(packet)
                continue
            if has_video and not held:
                continue  # no keyframe yet: wait for the first one
            cutting = False
            release()
        emit(packet)
    if held:  # the range starts after this segment's last keyframe and ends inside it
        release()
    return max(cursor, end_at), reached_end


#: Packets read ahead to find a file's first timestamp (streams interleave loosely).
LOOKAHEAD = 64


def _lookahead(demuxed: Iterable[Any]) -> tuple[list[Any], Iterator[Any], float]:
    """The first packets, all the usable packets, and the smallest dts among the first ones
    (the file's start, in seconds)."""
    usable = (p for p in demuxed if p.dts is not None and p.size)
    ahead = list(itertools.islice(usable, LOOKAHEAD))
    first = min((p.dts * float(p.time_base) for p in ahead), default=0.0)
    return ahead, itertools.chain(ahead, usable), first


def _is_adts(data: bytes) -> bool:
    return len(data) >= 7 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0


def _audio_specific_config(adts: bytes) -> bytes:
    """The 2-byte AudioSpecificConfig an ADTS header describes (ISO 14496-3, 1.6.2.1)."""
    profile = (adts[2] >> 6) + 1
    rate_index = (adts[2] >> 2) & 0x0F
    channels = ((adts[2] & 0x01) << 2) | (adts[3] >> 6)
    return bytes([(profile << 3) | (rate_index >> 1), ((rate_index & 1) << 7) | (channels << 3)])


def _anchor(container: Any, segment: Segment, file_first: float) -> float:
    """The media time that corresponds to ``segment.start``. Anchored on the file's END when
    its duration is known: the recorder's startTime of a first file is when the recorder got
    going, while the media server's GOP cache gives it a second or so of earlier media; its
    finishTime is when the last packet came, so ``finish - duration`` is the true start."""
    if container.duration is None or container.start_time is None:
        return file_first
    end = (container.start_time + container.duration) / 1_000_000
    return float(end - (segment.finish - segment.start).total_seconds())


def _wall(segment: Segment, when: float, media_start: float) -> datetime:
    return segment.start + timedelta(seconds=when - media_start)
