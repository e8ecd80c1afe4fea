"""Helpers shared by the export tests: what a continuous exported file looks like to ffprobe,
and a time range spanning several recorded files."""

from __future__ import annotations

import itertools
import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.recorder.harness import FRAME, GOP

from .conftest import Recording


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's format, streams and packets of ``path``."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-show_packets",
         "-of", "json", str(path)], check=True, capture_output=True, text=True).stdout
    info: dict[str, Any] = json.loads(out)
    return info


def assert_continuous(path: Path, seconds: float, like: Path | None) -> None:
    """Both tracks, the recording's picture size, a duration of ``seconds`` +- one GOP, and
    per track dts that only grow with no hole bigger than a few frames (splits invisible)."""
    info = probe(path)
    kinds = {s["codec_type"]: s for s in info["streams"]}
    assert set(kinds) == {"video", "audio"}, kinds
    assert like is not None
    source = next(s for s in probe(like)["streams"] if s["codec_type"] == "video")
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (
        source["width"], source["height"])
    duration = float(info["format"]["duration"])
    assert abs(duration - seconds) <= GOP + 2 * FRAME, (duration, seconds)
    for index, stream in enumerate(info["streams"]):
        times = [float(p["dts_time"]) for p in info["packets"]
                 if p["stream_index"] == index and "dts_time" in p]
        assert times == sorted(times) and len(set(times)) == len(times), stream["codec_type"]
        steps = [b - a for a, b in itertools.pairwise(times)]
        assert max(steps) < 0.2, (stream["codec_type"], max(steps))
    # the video starts on a keyframe
    first_video = next(p for p in info["packets"] if p["codec_type"] == "video")
    assert "K" in first_video["flags"]


def middle_range(recording: Recording, seconds: float) -> tuple[Any, Any]:
    """A range starting inside the first file, spanning at least three files."""
    first = recording.segments[0]
    start = first.start + (first.finish - first.start) / 2 + timedelta(milliseconds=300)
    return start, start + timedelta(seconds=seconds)
