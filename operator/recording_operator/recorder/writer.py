"""One output file: remux the selected tracks into MPEG-TS or fragmented MP4.

Both formats are written so that a recorder killed at any moment leaves a file that plays:

* MPEG-TS is naturally streamable; each packet is flushed to the kernel as it is muxed, so a
  SIGKILL loses only what the source had not delivered yet.
* MP4 is written fragmented (``frag_keyframe``, and ``frag_duration`` capping a fragment at one
  second for long GOPs). ``delay_moov`` writes the ``moov`` after the first fragment, once the
  codec configuration and the first timestamps are known, and ``default_base_moof`` makes each
  fragment self-contained. With ``empty_moov`` instead, players restart a continuity file's
  timestamps at 0, which is why it is not used.

Timestamps arrive on the recorder's output clock in microseconds; each file subtracts its origin
(its first keyframe for ``discontinuity``, nothing for ``continuity``) and converts to the output
stream's time base. Each stream's DTS is kept strictly increasing (a duplicate from the source
is moved one tick on), because muxers refuse anything else.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from .errors import StorageError
from .interleave import Sample
from .paths import storage_error
from .tracks import Track

log = logging.getLogger(__name__)

_STORAGE_ERRNOS = frozenset({
    errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EDQUOT,
    errno.ENAMETOOLONG, errno.EIO, errno.ENOTDIR, errno.EISDIR, errno.EFBIG,
})


@dataclass(frozen=True)
class OutputFormat:
    name: str
    options: Mapping[str, str]


MPEGTS = OutputFormat("mpegts", {"flush_packets": "1"})
FRAGMENTED_MP4 = OutputFormat(
    "mp4",
    {
        "movflags": "frag_keyframe+delay_moov+default_base_moof",
        "frag_duration": "1000000",
        "flush_packets": "1",
    },
)


def output_format(path: str | Path) -> OutputFormat:
    suffix = Path(path).suffix.lower()
    if suffix == ".ts":
        return MPEGTS
    if suffix == ".mp4":
        return FRAGMENTED_MP4
    raise ValueError(f"unsupported file extension {suffix!r} (want .ts or .mp4)")


@dataclass(frozen=True)
class FileStats:
    size: int
    #: Media time the file holds, in microseconds.
    duration_us: int
    packets: int


def _storage_error(exc: BaseException, path: Path) -> StorageError | None:
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        return storage_error(exc, path)
    return None


class _Rational:
    """A time base PyAV can read quickly. PyAV takes any object with ``numerator`` and
    ``denominator`` (it reads just those two); a Fraction's are Python properties, and setting a
    packet's time base from one cost 1.2 µs per packet against 0.27 µs from this (measured)."""

    __slots__ = ("denominator", "numerator")

    def __init__(self, numerator: int, denominator: int) -> None:
        self.numerator = numerator
        self.denominator = denominator


class _Out:
    """Per output stream: the PyAV stream, its time base as integers, the last DTS written."""

    __slots__ = ("den", "den2", "last_dts", "num", "num2", "rational", "stream", "tb")

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tb: Fraction = stream.time_base
        self.rational = _Rational(self.tb.numerator, self.tb.denominator)
        self.num = self.tb.numerator * 1_000_000
        self.den = self.tb.denominator
        self.num2 = self.num * 2
        self.den2 = self.den * 2
        self.last_dts: int | None = None

    def ticks(self, us: int) -> int:
        """Microseconds → this stream's time base, rounded to the nearest tick."""
        ticks: int = (us * self.den * 2 + self.num) // (2 * self.num)
        return ticks


class FileWriter:
    """Writes one file at ``path`` (its temporary name); ``close`` finishes it."""

    def __init__(
        self,
        path: Path,
        fmt: OutputFormat,
        tracks: Sequence[Track],
        *,
        origin_us: int,
        extradata: Mapping[int, bytes] | None = None,
        target: str | None = None,
    ) -> None:
        """``target`` is what to open instead of ``path`` (``paths.TaskPaths.create_temp``)."""
        self.path = path
        self._origin = origin_us
        self._start: int | None = None
        self._end = 0
        self.packets = 0
        self.nudged = 0
        self.dropped = 0
        try:
            self._container = av.open(target or str(path), "w", format=fmt.name,
                                      options=dict(fmt.options))
        except Exception as exc:
            raise _storage_error(exc, path) or StorageError(
                f"cannot create {path.name}: {exc}") from exc
        try:
            for track in tracks:
                ostream = self._container.add_stream_from_template(track.stream, opaque=True)
                if extradata and track.slot in extradata:
                    ostream.codec_context.extradata = extradata[track.slot]
            # The header now, not at the first packet: a storage problem shows at once, and the
            # muxer's final time bases are known before the first conversion.
            self._container.start_encoding()
        except Exception as exc:
            self.abort()
            raise (_storage_error(exc, path) or exc) from exc
        self._outs = [_Out(s) for s in self._container.streams]

    @property
    def duration_us(self) -> int:
        return 0 if self._start is None else self._end - self._start

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def write(self, sample: Sample) -> None:
        self.write_packet(sample.packet, sample.slot, sample.dts, sample.pts, sample.duration)

    def write_packet(self, packet: Any, slot: int, at_us: int, pts_us: int, duration: int
                     ) -> None:
        """Writes one packet stamped on the output clock (µs): the per-packet path, which takes
        plain values so that a packet going straight through needs no Sample."""
        if self._start is None:
            self._start = at_us
        end = at_us + duration
        if end > self._end:
            self._end = end
        out = self._outs[slot]
        # Microseconds → output ticks, rounded (Out.ticks, inlined: this runs per packet).
        num2, den2, num = out.num2, out.den2, out.num
        origin = self._origin
        dts = ((at_us - origin) * den2 + num) // num2
        pts = ((pts_us - origin) * den2 + num) // num2
        last = out.last_dts
        if last is not None and dts <= last:
            dts = last + 1
            self.nudged += 1
        if pts < dts:
            pts = dts
        out.last_dts = dts
        packet.dts = dts
        packet.pts = pts
        packet.duration = (duration * den2 + num) // num2 if duration > 0 else 0
        packet.time_base = out.rational
        packet.stream = out.stream
        try:
            self._container.mux_one(packet)
        except OSError as exc:
            raise _storage_error(exc, self.path) or StorageError(
                f"cannot write {self.path.name}: {exc}") from exc
        except ValueError as exc:
            # A malformed packet from the source: losing it beats losing the recording.
            self.dropped += 1
            if self.dropped <= 5:
                log.warning("dropped a packet the muxer refused: %s", exc)
            return
        self.packets += 1

    def close(self) -> FileStats:
        """Writes the trailer and makes the bytes durable; the caller renames the file."""
        try:
            self._container.close()
        except OSError as exc:
            raise _storage_error(exc, self.path) or StorageError(
                f"cannot finish {self.path.name}: {exc}") from exc
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise storage_error(exc, self.path) from exc
        if self.nudged:
            log.info("%s: moved %d duplicate timestamps one tick on", self.path.name, self.nudged)
        return FileStats(size=self.size(), duration_us=self.duration_us, packets=self.packets)

    def abort(self) -> None:
        """Closes without raising (the file stays, as complete as it got)."""
        try:
            self._container.close()
        except Exception as exc:
            log.debug("closing %s after a failure: %s", self.path, exc)


def media_duration_us(path: Path) -> int:
    """How much media a finished or orphaned file holds, as its container tells (0: unknown)."""
    try:
        with av.open(str(path)) as container:
            duration = container.duration
    except (av.FFmpegError, OSError):
        return 0
    return int(duration) if duration and duration > 0 else 0
