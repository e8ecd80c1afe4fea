"""Opening the live input with PyAV, and telling "not there yet" from "can never work".

The distinction drives the state machine: an absent stream is a reservation (retry with capped
backoff, state ``ready``), a dropped one is waited for (state ``stopped``), but an unknown scheme
or an unsupported protocol is an error a person must fix, reported at once instead of retried.

PyAV's FFmpeg is built without libsrt, so ``srt://`` is read through a relay: the ``ffmpeg``
program pulls SRT and serves the same packets as MPEG-TS on a loopback TCP port, which PyAV then
reads. Without that program an ``srt://`` source is refused with a message that says so.
"""

from __future__ import annotations

import collections
import errno
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import av

from ..ports import free_port
from .errors import SourceRefused, SourceUnavailable

log = logging.getLogger(__name__)

_RTMP = ("rtmp", "rtmps", "rtmpt", "rtmpe", "rtmpte", "rtmpts")
_HTTP = ("http", "https")
_RTSP = ("rtsp", "rtsps")
SUPPORTED_SCHEMES = (*_RTMP, *_HTTP, *_RTSP, "srt")


@dataclass(frozen=True)
class SourceOptions:
    #: Seconds to wait for a connection and the stream's codec parameters.
    open_timeout: float = 10.0
    #: Seconds without a packet after which the stream counts as dropped (None: per scheme).
    read_timeout: float | None = None
    #: How much of the stream FFmpeg reads to learn its tracks before recording starts. FLV
    #: (RTMP, HTTP-FLV) announces tracks only by sending them, so FFmpeg reads this long
    #: whatever the stream: it is a floor under the reservation latency (publish → first byte),
    #: hence short. A server may hold video back until its next keyframe; when the metadata
    #: announces video the probe missed, the source is probed again for ``reprobe_us`` (a
    #: long-GOP stream). Nothing is lost by probing: the packets read are recorded afterwards.
    analyze_us: int = 1_000_000
    #: Not shorter after a publish notification either: measured (issue 14), a player of
    #: nginx-rtmp joins after the publisher's first keyframe even when it connects the moment
    #: the publish is reported, and gets video only from the next one, so a short first probe
    #: sees audio alone and a second one costs a reconnection on top of the usual probe.
    reprobe_us: int = 10_000_000
    #: The ``ffmpeg`` program for the SRT relay (None: look it up on PATH).
    ffmpeg: str | None = None


def redact(url: str) -> str:
    """The URL without credentials or query values, for logs and status messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "&".join(f"{kv.split('=', 1)[0]}=…" for kv in parts.query.split("&") if kv)
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def check_url(url: str) -> str:
    """The URL's scheme, or SourceRefused when it is not one the recorder can read."""
    scheme = urlsplit(url).scheme.lower()
    if not scheme:
        raise SourceRefused(f"source {redact(url)!r} is not a URL (e.g. rtmp://host/app/stream)")
    if scheme not in SUPPORTED_SCHEMES:
        raise SourceRefused(
            f"source scheme {scheme!r} is not supported (supported: rtmp, rtmps, http(s) for "
            "HLS and HTTP-FLV, rtsp, rtsps, srt)"
        )
    return scheme


def check_source(url: str, opts: SourceOptions | None = None) -> None:
    """Refuses, before any attempt, a source that can never be read here."""
    if check_url(url) == "srt":
        _ffmpeg_for_srt(opts or SourceOptions())


def _ffmpeg_for_srt(opts: SourceOptions) -> str:
    ffmpeg = opts.ffmpeg or shutil.which("ffmpeg")
    if not ffmpeg:
        raise SourceRefused(
            "srt:// sources are not supported without the ffmpeg program (PyAV's FFmpeg is "
            "built without SRT): install ffmpeg with SRT support in the recorder image, or "
            "record the stream over RTMP, RTSP or HLS"
        )
    return ffmpeg


def _input_options(
    scheme: str, opts: SourceOptions
) -> tuple[dict[str, str], float | None, bool]:
    """FFmpeg options, PyAV's read timeout, and whether PyAV's forced ``genpts`` can go.

    Where the protocol has its own I/O timeout (``rw_timeout``: RTMP, and the SRT relay's TCP),
    PyAV's read timeout is left off: PyAV implements it with an interrupt callback that takes
    the GIL on every poll, which costs more CPU than the rest of the remux per packet. Those
    sources also always carry presentation timestamps, so ``genpts`` (which PyAV forces on
    every input, and which buffers to guess missing ones) has nothing to do.
    """
    options = {"analyzeduration": str(opts.analyze_us)}
    if scheme in _RTMP or scheme == "srt":
        if scheme != "srt":
            options["rtmp_live"] = "live"
        # FFmpeg's RTMP waits up to twice this before giving up on a silent server.
        seconds = (opts.read_timeout or 6.0) / 2
        options["rw_timeout"] = str(int(seconds * 1_000_000))
        return options, None, True
    if scheme in _RTSP:
        options["rtsp_transport"] = "tcp"
        read_timeout = 5.0
    elif scheme in _HTTP:
        # HLS: start at the newest segment, not three back, so that a stream that returns after
        # a drop is not re-read from segments already recorded.
        options["live_start_index"] = "-1"
        read_timeout = 15.0
    else:
        read_timeout = 5.0
    return options, opts.read_timeout or read_timeout, False


def _drop_genpts(container: Any) -> None:
    container.flags = container.flags & ~av.container.Flags.gen_pts.value


def _reason(exc: BaseException) -> str:
    strerror = getattr(exc, "strerror", None)
    return str(strerror or exc)


def _absent(scheme: str, url: str, exc: BaseException) -> SourceUnavailable:
    """Says, for a person reading the status, why the stream could not be opened."""
    code = getattr(exc, "errno", None)
    if isinstance(exc, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        why = "the media server is not reachable (connection refused)"
    elif scheme in _RTMP and code in (errno.EPERM, errno.EACCES, errno.EIO):
        why = "it is not published (the server refused to play it)"
    elif isinstance(exc, av.error.HTTPNotFoundError):
        why = "it is not published (HTTP 404)"
    elif isinstance(exc, TimeoutError | av.error.ExitError):
        why = "the server did not answer in time"
    else:
        why = _reason(exc)
    return SourceUnavailable(f"{redact(url)}: {why}")


class Source:
    """An open input; iterate :meth:`packets` until it ends (then the stream has dropped)."""

    def __init__(self, container: Any, url: str, relay: _SrtRelay | None = None) -> None:
        self.container = container
        self.url = url
        self._relay = relay

    @property
    def streams(self) -> Sequence[Any]:
        return list(self.container.streams)

    def packets(self, streams: Sequence[Any]) -> Iterator[Any]:
        """The demuxed packets of ``streams``; raises SourceUnavailable when the stream breaks
        and returns when it ends cleanly."""
        try:
            yield from self.container.demux(list(streams))
        except EOFError:
            return
        except (av.FFmpegError, OSError) as exc:
            detail = self._relay.last_error() if self._relay else ""
            raise SourceUnavailable(
                f"the stream {redact(self.url)} broke off: {_reason(exc)}{detail}"
            ) from exc

    def close(self) -> None:
        try:
            self.container.close()
        finally:
            if self._relay:
                self._relay.stop()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(url: str, opts: SourceOptions | None = None) -> Source:
    opts = opts or SourceOptions()
    scheme = check_url(url)
    if scheme == "srt":
        return _open_srt(url, opts)
    options, read_timeout, no_genpts = _input_options(scheme, opts)
    analyze = opts.analyze_us
    while True:
        options = {**options, "analyzeduration": str(analyze)}
        try:
            container = av.open(url, "r", options=options,
                                timeout=(opts.open_timeout, read_timeout))
        except av.error.ProtocolNotFoundError as exc:
            raise SourceRefused(
                f"this build cannot read {scheme}:// sources: {_reason(exc)}") from exc
        except (av.FFmpegError, OSError) as exc:
            raise _absent(scheme, url, exc) from exc
        longer = _longer_probe(container, analyze, opts)
        if longer is None:
            break
        # PyAV cannot pick up a stream that appears after the probe, so look again, longer,
        # rather than record a stream without one of its tracks.
        container.close()
        analyze = longer
    if no_genpts:
        _drop_genpts(container)
    return Source(container, url)


#: Metadata keys (FLV onMetaData, as publishers and nginx-rtmp send it) that mean "has video".
_VIDEO_METADATA = ("videocodecid", "width", "height", "displaywidth", "displayheight",
                   "framerate", "fps", "videodatarate")


def _longer_probe(container: Any, analyze: int, opts: SourceOptions) -> int | None:
    """The ``analyzeduration`` to open the source again with, or None: it has its tracks."""
    present = {s.type for s in container.streams}
    if "video" not in present and _video_announced(container) and analyze < opts.reprobe_us:
        log.info("the stream announces video that the probe did not see; probing longer")
        return opts.reprobe_us
    return None


def _video_announced(container: Any) -> bool:
    """True when the metadata says there is video (nginx-rtmp sends ``displayWidth`` 0 for an
    audio-only stream: a zero says there is none)."""
    return any(str(key).lower() in _VIDEO_METADATA and str(value).strip() not in ("", "0", "0.0")
               for key, value in container.metadata.items())


class _SrtRelay:
    """``ffmpeg`` pulling SRT and serving it, unchanged, as MPEG-TS on a loopback port."""

    def __init__(self, url: str, ffmpeg: str, port: int) -> None:
        self.port = port
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self.process = subprocess.Popen(
            [
                ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
                "-i", url, "-map", "0", "-c", "copy",
                "-f", "mpegts", f"tcp://127.0.0.1:{port}?listen=1",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line.strip())

    def last_error(self) -> str:
        lines = [line for line in self._stderr if line]
        return f" (srt relay: {lines[-1]})" if lines else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _open_srt(url: str, opts: SourceOptions) -> Source:
    relay = _SrtRelay(url, _ffmpeg_for_srt(opts), free_port())
    options, read_timeout, _ = _input_options("srt", opts)
    deadline = time.monotonic() + opts.open_timeout
    while True:
        if relay.process.poll() is not None:
            relay.stop()
            relay._reader.join(timeout=1)
            raise SourceUnavailable(
                f"stream {redact(url)} is not available{relay.last_error() or ' (relay exited)'}"
            )
        try:
            container = av.open(
                f"tcp://127.0.0.1:{relay.port}", "r", format="mpegts", options=options,
                timeout=(max(1.0, deadline - time.monotonic()), read_timeout),
            )
            _drop_genpts(container)
            return Source(container, url, relay)
        except (av.FFmpegError, OSError) as exc:
            if time.monotonic() >= deadline:
                relay.stop()
                raise SourceUnavailable(
                    f"stream {redact(url)} is not available: {_reason(exc)}{relay.last_error()}"
                ) from exc
            time.sleep(0.1)
