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
from fractions import Fraction
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


def _seconds(value: int, time_base: Fraction) -> Fraction:
    return value * time_base


class _Output:
    """The output container and its streams, made from the first segment's streams."""

    def __init__(self, sink: Sink, fmt: str) -> None:
        options = MP4_OPTIONS if fmt == "mp4" else {}
        self.container = av.open(sink, "w", format=FORMATS[fmt], options=options)
        self.fmt = fmt
        self.streams: dict[str, Any] = {}
        self.adts = False
        #: Per track, the output time of the last packet (dts must only grow).
        self.last_dts: dict[str, Fraction] = {}
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
    cursor = Fraction(0)
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
    summary.seconds = float(cursor)
    return summary


def _copy(container: Any, segment: Segment, start: datetime, end: datetime, output: _Output,
          cursor: Fraction, summary: Summary, *, first: bool) -> tuple[Fraction, bool]:
    """Copies one segment's packets inside the range; returns the new cursor and whether the
    range's end was reached."""
    inputs = [s for s in container.streams if s.type in ("video", "audio")]
    has_video = any(s.type == "video" for s in inputs)
    # wall-clock of a packet = segment start + (its time - the file's first time)
    ahead, packets, file_first = _lookahead(container.demux(inputs))
    media_start = _anchor(container, segment, file_first)
    output.prepare(inputs, ahead)
    # the output offset: input seconds -> output seconds
    shift = cursor - file_first
    # packets of the first segment held since the last keyframe, until one passes start
    held: list[Any] = []
    cutting = first and start > segment.start
    end_at = Fraction(0)
    reached_end = False

    def emit(packet: Any, when: Fraction) -> None:
        nonlocal shift, end_at
        out = output.stream_for(packet.stream)
        if out is None:
            return
        tb = packet.time_base
        duration = _seconds(packet.duration or 0, tb)
        out_when = when + shift
        # dts must grow in the output's time base too (coarser for MP4 audio: 1/44100 where
        # MPEG-TS counts 1/90000); a packet that would not is dropped -- in the recordings
        # seen, a 5-byte AAC frame a tick before the next one at a split
        out_tb = out.time_base or tb
        last = output.last_dts.get(out.type)
        if last is not None and round(out_when / out_tb) <= round(last / out_tb):
            log.debug("dropped a %s packet of %s going back in time", out.type, segment.name)
            return
        output.last_dts[out.type] = out_when
        delta = round(shift / tb)
        for adapted in output.adapt(packet):
            if adapted.pts is not None:
                adapted.pts += delta
            adapted.dts += delta
            adapted.stream = out
            output.mux(adapted)
            summary.packets += 1
        summary.tracks.add(out.type)
        if summary.first_wall is None:
            summary.first_wall = _wall(segment, when, media_start)
        end_at = max(end_at, out_when + duration)

    for packet in packets:
        when = _seconds(packet.dts, packet.time_base)
        wall = _wall(segment, when, media_start)
        if wall >= end:
            reached_end = True
            break
        if cutting:
            keyframe = packet.is_keyframe and packet.stream.type == "video"
            if wall <= start and (keyframe or (not has_video and not held)):
                held = [packet]
                continue
            if wall <= start or (has_video and not held):
                if held:
                    held.append(packet)
                continue
            cutting = False
            if held:
                base = min(_seconds(p.dts, p.time_base) for p in held)
                shift = cursor - base
                for kept in held:
                    emit(kept, _seconds(kept.dts, kept.time_base))
                held = []
        emit(packet, when)
    if held:  # the range starts after this segment's last keyframe and ends inside it
        base = min(_seconds(p.dts, p.time_base) for p in held)
        shift = cursor - base
        for kept in held:
            emit(kept, _seconds(kept.dts, kept.time_base))
    return (max(cursor, end_at), reached_end)


#: Packets read ahead to find a file's first timestamp (streams interleave loosely).
LOOKAHEAD = 64


def _lookahead(demuxed: Iterable[Any]) -> tuple[list[Any], Iterator[Any], Fraction]:
    """The first packets, all the usable packets, and the smallest dts among the first ones
    (the file's start)."""
    usable = (p for p in demuxed if p.dts is not None and p.size)
    ahead = list(itertools.islice(usable, LOOKAHEAD))
    first = min((_seconds(p.dts, p.time_base) for p in ahead), default=Fraction(0))
    return ahead, itertools.chain(ahead, usable), first


def _is_adts(data: bytes) -> bool:
    return len(data) >= 7 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0


def _audio_specific_config(adts: bytes) -> bytes:
    """The 2-byte AudioSpecificConfig an ADTS header describes (ISO 14496-3, 1.6.2.1)."""
    profile = (adts[2] >> 6) + 1
    rate_index = (adts[2] >> 2) & 0x0F
    channels = ((adts[2] & 0x01) << 2) | (adts[3] >> 6)
    return bytes([(profile << 3) | (rate_index >> 1), ((rate_index & 1) << 7) | (channels << 3)])


def _anchor(container: Any, segment: Segment, file_first: Fraction) -> Fraction:
    """The media time that corresponds to ``segment.start``. Anchored on the file's END when
    its duration is known: the recorder's startTime of a first file is when the recorder got
    going, while the media server's GOP cache gives it a second or so of earlier media; its
    finishTime is when the last packet came, so ``finish - duration`` is the true start."""
    if container.duration is None or container.start_time is None:
        return file_first
    end = Fraction(container.start_time + container.duration, 1_000_000)
    return end - Fraction((segment.finish - segment.start).total_seconds())


def _wall(segment: Segment, when: Fraction, media_start: Fraction) -> datetime:
    return segment.start + timedelta(seconds=float(when - media_start))
