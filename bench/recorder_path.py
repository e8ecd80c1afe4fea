"""Instructions per recorded minute: the recorder's packet path against ``ffmpeg -c copy -f
segment``, counted by ``valgrind --tool=callgrind`` on the same FLV file.

CPU seconds on a shared machine move with the neighbours' load; instruction counts do not. Both
programs read one H.264 + AAC FLV file (what an RTMP source delivers, without the network) and
split it every ``--split`` seconds into MPEG-TS files. Each runs twice, on a short and on a long
copy of the input: the difference is the steady cost per recorded minute, the rest is start-up
(for us: the interpreter, PyAV and our modules; for ffmpeg: its libraries).

The recorder's side is the real ``Recorder`` of ``recorder/session.py`` (track selection,
timeline, interleaver, splitter, writer, info XML), fed a file instead of a live stream.

    python bench/recorder_path.py             # 10 s and 40 s of 720p30
    python bench/recorder_path.py --tiny      # 2 s and 4 s of 320x180
    python bench/recorder_path.py replay IN.flv OUTDIR SPLIT   # the recorder's side alone
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/recorder_path.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def replay(source: str, out: str, split_s: float) -> int:
    """Records ``source`` (a file) with the recorder's own session code into ``out``."""
    from zoneinfo import ZoneInfo

    import av

    from recording_operator.model.resolved import ResolvedRecording
    from recording_operator.recorder.progress import Progress
    from recording_operator.recorder.session import Recorder
    from recording_operator.recorder.source import Source

    spec = {
        "recording": {"namespace": "bench", "name": "bench"}, "id": "bench",
        "vhost": "default", "app": "app", "stream": "bench",
        "transactionId": "BENCH00000000000", "sourceUrl": "rtmp://127.0.0.1/app/bench",
        "intervalMs": int(split_s * 1000), "filePath": "${Sequence}.ts",
        "infoPath": "info.xml",
    }
    job = ResolvedRecording.from_env(json.dumps(spec))
    progress = Progress(ZoneInfo("UTC"))
    recorder = Recorder(job, progress, threading.Event(), storage_root=out)
    with Source(av.open(source, "r"), str(spec["sourceUrl"])) as opened:
        recorder._record(opened)
    return 0


def _instructions(command: list[str], work: Path, label: str) -> int:
    """Total instructions executed by ``command`` (all its threads), as callgrind counts."""
    out = work / f"callgrind.{label}"
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    *command], check=True, capture_output=True)
    for line in out.read_text(errors="replace").splitlines():
        match = re.match(r"(?:summary|totals):\s+(\d+)", line)
        if match:
            return int(match.group(1))
    raise RuntimeError(f"no instruction total in {out}")


def _media(seconds: float, size: str, fps: int, work: Path) -> tuple[Path, Path]:
    from recording_operator.local.publisher import find_ffmpeg, make_clip

    clip = make_clip(work / "clip.mp4", seconds=seconds, fps=fps, gop_frames=fps * 2, size=size)
    ffmpeg = find_ffmpeg()
    short, long = work / "short.flv", work / "long.flv"
    for path, loops in ((short, 0), (long, 3)):
        subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-stream_loop",
                        str(loops), "-i", str(clip), "-c", "copy", "-f", "flv", str(path)],
                       check=True)
    return short, long


def _duration_s(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1_000_000


def measure(tiny: bool, split: float | None = None) -> dict[str, Any]:
    from recording_operator.local.publisher import find_ffmpeg

    if not shutil.which("valgrind"):
        raise RuntimeError("valgrind is not installed (tools/system-deps.sh installs it)")
    seconds, size, fps = (2.0, "320x180", 25) if tiny else (10.0, "1280x720", 30)
    split = split or (1.0 if tiny else 20.0)
    work = Path(tempfile.mkdtemp(prefix="bench-path-"))
    try:
        short, long = _media(seconds, size, fps, work)
        lengths = {"short": _duration_s(short), "long": _duration_s(long)}
        counts: dict[str, dict[str, int]] = {"recorder": {}, "ffmpeg": {}}
        for label, media in (("short", short), ("long", long)):
            for name in counts:
                out = work / f"{name}-{label}"
                out.mkdir()
                if name == "recorder":
                    command = [sys.executable, str(Path(__file__).resolve()), "replay",
                               str(media), str(out), str(split)]
                else:
                    command = [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-i", str(media),
                               "-map", "0", "-c", "copy", "-f", "segment", "-segment_time",
                               str(split), "-reset_timestamps", "1", str(out / "%05d.ts")]
                counts[name][label] = _instructions(command, work, f"{name}-{label}")
        extra_min = (lengths["long"] - lengths["short"]) / 60
        figures: dict[str, Any] = {"media_s": lengths, "split_s": split, "size": size,
                                   "fps": fps}
        for name, count in counts.items():
            per_min = (count["long"] - count["short"]) / extra_min
            figures[name] = {
                "instructions": count,
                "per_recorded_min": per_min,
                "start_up": count["short"] - per_min * lengths["short"] / 60,
            }
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["replay"]:
        _, source, out, split = args_list
        return replay(source, out, float(split))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a quick smoke run")
    parser.add_argument("--split", type=float, default=None, help="split interval, seconds")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(args_list)
    figures = measure(args.tiny, args.split)
    ours, theirs = figures["recorder"], figures["ffmpeg"]
    print(f"instructions (callgrind), recorder vs ffmpeg -c copy -f segment, "
          f"{figures['size']}@{figures['fps']} H.264 + AAC from FLV, {figures['split_s']:g} s "
          f"splits")
    print(f"  {'':30}{'ours':>14}{'ffmpeg':>14}{'ratio':>8}")
    for label, key in (("per recorded minute", "per_recorded_min"),
                       ("start-up (once per run)", "start_up")):
        a, b = ours[key], theirs[key]
        print(f"  {label:30}{a / 1e6:>12.0f} M{b / 1e6:>12.0f} M{a / b:>7.2f}x")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
