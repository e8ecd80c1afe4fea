"""Export throughput (issue 15): one range remuxed from its segments into fragmented MP4 by the
export's own path (PyAV in a thread, the bounded queue, an async reader -- what the API streams),
as a ratio to ``ffmpeg -f concat -c copy`` writing the same fragmented MP4 from the same
segments, in the same run.

The segments are MPEG-TS files of H.264 (2 B-frames, 1 s GOP) + AAC cut at keyframes with
``ffmpeg -f segment -c copy`` from a generated clip: the layout the recorder writes, made
faster than real time (a recorder takes as long as the stream to write them).

    python -m bench.export           # 10 minutes of 640x360 in 20 s segments, 3 runs
    python -m bench.export --tiny    # 30 s of 320x180 in 5 s segments, 1 run
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/export.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, add_common_arguments, emit, median
from recording_operator.export.remux import remux
from recording_operator.export.segments import Segment
from recording_operator.export.stream import byte_stream
from recording_operator.local.publisher import make_clip

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"


def segments(tmp: Path, seconds: int, size: str, split: int) -> list[Segment]:
    clip = make_clip(tmp / "clip.mp4", seconds=seconds, size=size)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip),
                    "-c", "copy", "-f", "segment", "-segment_time", str(split),
                    "-reset_timestamps", "0", str(tmp / "seg%04d.ts")], check=True)
    made = []
    for path in sorted(tmp.glob("seg*.ts")):
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=start_time,"
                                "duration", "-of", "csv=p=0", str(path)],
                               check=True, capture_output=True, text=True).stdout.split(",")
        start, duration = float(probe[0]), float(probe[1])
        made.append(Segment(T0 + timedelta(seconds=start),
                            T0 + timedelta(seconds=start + duration), path))
    return made


def ours(parts: list[Segment]) -> tuple[float, int]:
    """The export's path end to end: seconds and bytes."""
    start, end = parts[0].start, parts[-1].finish

    async def drain() -> int:
        total = 0
        async for chunk in byte_stream(lambda pipe: remux(parts, start, end, pipe, "mp4",
                                                          lambda s: str(s.path))):
            total += len(chunk)
        return total

    began = time.perf_counter()
    size = asyncio.run(drain())
    return time.perf_counter() - began, size


def ffmpeg(parts: list[Segment], tmp: Path) -> float:
    listing = tmp / "concat.txt"
    listing.write_text("".join(f"file '{p.path}'\n" for p in parts))
    began = time.perf_counter()
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-c", "copy", "-bsf:a", "aac_adtstoasc",
                    "-movflags", FRAGMENTED, "-f", "mp4",
                    "pipe:1"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.tiny else 3)
    seconds, size, split = (30, "320x180", 5) if args.tiny else (600, "640x360", 20)
    with tempfile.TemporaryDirectory(prefix="bench-export-") as name:
        tmp = Path(name)
        parts = segments(tmp, seconds, size, split)
        mb = sum(p.path.stat().st_size for p in parts if p.path) / 1e6
        ratios, rates, times = [], [], []
        for run in range(runs):
            took, written = ours(parts)
            base = ffmpeg(parts, tmp)
            ratios.append(base / took)
            rates.append(mb / took)
            times.append(f"{took:.2f}/{base:.2f}")
            print(f"  run {run}: export {took:.2f} s ({written / 1e6:.1f} MB out), ffmpeg "
                  f"{base:.2f} s, ratio {base / took:.2f}", flush=True)
    figures = [Figure(
        "export throughput, x ffmpeg -f concat -c copy", median(ratios), "x", "", None,
        f"{len(parts)} segments of {split} s ({seconds} s of {size}, {mb:.1f} MB) to "
        f"fragmented MP4 per run; ours {median(rates):.0f} MB/s of input; ours/ffmpeg s: "
        f"{', '.join(times)} (above 1: faster than ffmpeg)", ratios)]
    emit(figures, args.json, "Export (remux of a range)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
