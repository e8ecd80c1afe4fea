"""Live publishers made of ``ffmpeg``: what a camera or OBS would send, on demand.

* :func:`make_clip` generates a short H.264 + AAC clip with a fixed GOP, so tests know exactly
  where the keyframes are;
* :meth:`Publisher.clip` loops such a clip in real time with ``-c copy`` (no encoding: cheap,
  and timestamps the tests can predict);
* :meth:`Publisher.test_pattern` encodes a moving test pattern with a tone, for the demo.

``stop`` ends the publish (the stream drops); ``start`` publishes again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit


class PublisherError(RuntimeError):
    pass


def find_ffmpeg(ffmpeg: str | None = None) -> str:
    found = ffmpeg or shutil.which("ffmpeg")
    if not found:
        raise PublisherError(
            "ffmpeg was not found: install it ('apt-get install ffmpeg' on Debian/Ubuntu)"
        )
    return found


def _output_format(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme.startswith("rtmp"):
        return "flv"
    if scheme in ("srt", "udp", "tcp"):
        return "mpegts"
    if scheme == "rtsp":
        return "rtsp"
    raise PublisherError(f"cannot publish to {scheme}:// URLs")


def make_clip(
    path: str | Path,
    *,
    seconds: float = 4.0,
    fps: int = 25,
    gop_frames: int = 25,
    size: str = "320x180",
    audio: bool = True,
    video: bool = True,
    b_frames: int = 2,
    ffmpeg: str | None = None,
) -> Path:
    """Writes an H.264 (fixed GOP, closed, no scene-cut keyframes) + AAC clip to ``path``."""
    path = Path(path)
    cmd = [find_ffmpeg(ffmpeg), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if video:
        cmd += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    cmd += ["-t", str(seconds)]
    if video:
        cmd += [
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-g", str(gop_frames), "-keyint_min", str(gop_frames), "-sc_threshold", "0",
            "-bf", str(b_frames), "-x264-params", "open_gop=0",
        ]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "64k", "-ac", "1"]
    cmd += [str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PublisherError(f"ffmpeg could not make the clip: {result.stderr.strip()}")
    return path


class Publisher:
    """One ``ffmpeg`` publishing to ``url``; restartable."""

    def __init__(self, input_args: Sequence[str], url: str, ffmpeg: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.url = url
        #: Added to ffmpeg's environment (the embedded stack marks its processes so).
        self.env = dict(env or {})
        self._cmd = [
            find_ffmpeg(ffmpeg), "-nostdin", "-hide_banner", "-loglevel", "error",
            *input_args, "-f", _output_format(url), url,
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None

    @classmethod
    def clip(cls, clip: str | Path, url: str, *, ffmpeg: str | None = None) -> Publisher:
        """Loops ``clip`` forever in real time, copying its packets."""
        return cls(["-re", "-stream_loop", "-1", "-i", str(clip), "-map", "0", "-c", "copy"],
                   url, ffmpeg)

    @classmethod
    def test_pattern(
        cls,
        url: str,
        *,
        size: str = "640x360",
        fps: int = 25,
        gop_seconds: int = 2,
        ffmpeg: str | None = None,
    ) -> Publisher:
        """A live test pattern with a tone and a clock, encoded on the fly (the demo stream)."""
        return cls(
            [
                "-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}",
                "-f", "lavfi", "-i", "sine=frequency=440:beep_factor=4:sample_rate=44100",
                "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
                "-pix_fmt", "yuv420p", "-g", str(fps * gop_seconds),
                "-keyint_min", str(fps * gop_seconds), "-sc_threshold", "0",
                "-c:a", "aac", "-b:a", "64k",
            ],
            url,
            ffmpeg,
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Publisher:
        if self.running:
            return self
        self.process = subprocess.Popen(
            self._cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True,
            env={**os.environ, **self.env} if self.env else None,
        )
        self.started_at = time.monotonic()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the publish: the stream drops for whoever plays it."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()

    def error_output(self) -> str:
        process = self.process
        if process is None or process.poll() is None or process.stderr is None:
            return ""
        return process.stderr.read().decode(errors="replace").strip()

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

