"""CPU and memory of our recorder against ``ffmpeg -c copy -f segment``, on one live source.

Both pull the same RTMP stream from a local nginx-rtmp at the same time, split it every
``--split`` seconds into MPEG-TS files, and are stopped with SIGTERM. For each we report:

* CPU seconds per recorded minute (user + system, from the kernel's accounting of the process;
  "recorded minute" is the media time found in its output files), over the whole run and in the
  steady state (after start-up, sampled from /proc while both are recording);
* peak RSS (``ru_maxrss``) and, at the end of the run, the private (unshared) memory.

Goal (issue 5): ≤ 1.5x ffmpeg's CPU and ≤ 50 MB RSS.

    python bench/recorder_cpu.py            # 2 minutes of 720p30, 20 s splits
    python bench/recorder_cpu.py --tiny     # a quick smoke run (make test runs this)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av

from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher, find_ffmpeg, make_clip

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    name: str
    process: subprocess.Popen[bytes]
    output: Path
    cpu_total: float = 0.0
    max_rss_kb: int = 0
    steady_from: float = 0.0
    steady_cpu: float = 0.0
    steady_wall: float = 0.0
    private_kb: int = 0
    pss_kb: int = 0
    exit_code: int | None = None

    def cpu_now(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory_now(self) -> None:
        for line in Path(f"/proc/{self.process.pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Private_Clean", "Private_Dirty"):
                self.private_kb += int(rest.split()[0])
            elif key == "Pss":
                self.pss_kb = int(rest.split()[0])

    def finish(self, timeout: float = 30.0) -> None:
        """SIGTERM, then reap with wait4 to get the kernel's CPU and peak-RSS accounting."""
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.process.kill()
                pid, status, usage = os.wait4(self.process.pid, 0)
                break
            time.sleep(0.05)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.exit_code = self.process.returncode
        self.cpu_total = usage.ru_utime + usage.ru_stime
        self.max_rss_kb = usage.ru_maxrss

    def recorded_seconds(self) -> float:
        total = 0.0
        for path in sorted(self.output.rglob("*.ts")):
            try:
                with av.open(str(path)) as container:
                    video = container.streams.video[0]
                    first = last = None
                    for packet in container.demux(video):
                        if packet.pts is None:
                            continue
                        t = float(packet.pts * packet.time_base)
                        first = t if first is None else min(first, t)
                        end = t + float((packet.duration or 0) * packet.time_base)
                        last = end if last is None else max(last, end)
                    if first is not None and last is not None:
                        total += last - first
            except (av.FFmpegError, IndexError):
                continue
        return total


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a quick smoke run (~15 s)")
    parser.add_argument("--seconds", type=float, default=None, help="how long to record")
    parser.add_argument("--split", type=float, default=None, help="split interval, seconds")
    parser.add_argument("--size", default=None, help="video size, e.g. 1280x720")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    seconds = args.seconds or (8.0 if args.tiny else 120.0)
    split = args.split or (3.0 if args.tiny else 20.0)
    size = args.size or ("320x180" if args.tiny else "1280x720")
    fps = 25 if args.tiny else 30

    work = Path(tempfile.mkdtemp(prefix="bench-recorder-"))
    clip = make_clip(work / "clip.mp4", seconds=4 if args.tiny else 10, fps=fps,
                     gop_frames=fps * 2, size=size)
    clip_rate = clip.stat().st_size * 8 / (4 if args.tiny else 10) / 1e6
    server = MediaServer.start(workdir=work / "nginx", hls=False)
    publisher = Publisher.clip(clip, server.rtmp_url("app", "bench")).start()
    runs: list[Run] = []
    try:
        server.wait_live("app", "bench")
        url = server.rtmp_url("app", "bench")
        ours_dir, ffmpeg_dir = work / "ours", work / "ffmpeg"
        ours_dir.mkdir()
        ffmpeg_dir.mkdir()
        spec = {
            "recording": {"namespace": "bench", "name": "bench"}, "id": "bench",
            "vhost": "default", "app": "app", "stream": "bench",
            "transactionId": "BENCH00000000000", "sourceUrl": url,
            "intervalMs": int(split * 1000), "filePath": "${Sequence}.ts",
            "infoPath": "info.xml",
        }
        (work / "spec.json").write_text(json.dumps(spec))
        log = open(work / "recorder.log", "wb")  # noqa: SIM115 - closed after the run
        runs.append(Run("recorder", subprocess.Popen(
            [sys.executable, "-m", "recording_operator.cli.main", "record", "--no-report",
             "--spec-file", str(work / "spec.json"), "--storage-root", str(ours_dir)],
            stdout=log, stderr=log), ours_dir))
        runs.append(Run("ffmpeg", subprocess.Popen(
            [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error",
             "-rtmp_live", "live", "-i", url, "-map", "0", "-c", "copy",
             "-f", "segment", "-segment_time", str(split), "-reset_timestamps", "1",
             str(ffmpeg_dir / "%05d.ts")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), ffmpeg_dir))
        started = time.monotonic()
        warmup = min(5.0, seconds / 3)
        time.sleep(warmup)
        for run in runs:
            run.steady_from = run.cpu_now()
        steady_start = time.monotonic()
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        for run in runs:
            run.steady_cpu = run.cpu_now() - run.steady_from
            run.steady_wall = time.monotonic() - steady_start
            run.memory_now()
        for run in runs:
            run.finish()
        log.close()
    finally:
        for run in runs:
            if run.process.poll() is None and run.exit_code is None:
                run.process.kill()
        publisher.stop()
        server.stop()

    figures = {}
    for run in runs:
        recorded = run.recorded_seconds()
        figures[run.name] = {
            "recorded_s": round(recorded, 2),
            "cpu_s": round(run.cpu_total, 3),
            "cpu_s_per_recorded_min": round(run.cpu_total / (recorded / 60), 3)
            if recorded else None,
            "steady_cpu_s_per_min": round(run.steady_cpu / (run.steady_wall / 60), 3)
            if run.steady_wall else None,
            "peak_rss_mb": round(run.max_rss_kb / 1024, 1),
            "private_mb": round(run.private_kb / 1024, 1),
            "pss_mb": round(run.pss_kb / 1024, 1),
            "exit_code": run.exit_code,
        }
    o, f = figures["recorder"], figures["ffmpeg"]
    print(f"recorder vs ffmpeg -c copy -f segment: {seconds:.0f} s of RTMP {size}@{fps} "
          f"H.264 (~{clip_rate:.1f} Mb/s) + AAC, {split:g} s splits, same live source")
    rows = [
        ("recorded media, s", "recorded_s"),
        ("CPU s (whole run)", "cpu_s"),
        ("CPU s / recorded minute", "cpu_s_per_recorded_min"),
        ("CPU s / minute, steady", "steady_cpu_s_per_min"),
        ("peak RSS, MB", "peak_rss_mb"),
        ("private memory, MB", "private_mb"),
        ("PSS, MB", "pss_mb"),
    ]
    print(f"  {'':26}{'ours':>10}{'ffmpeg':>10}{'ratio':>9}")
    for label, key in rows:
        a, b = o[key], f[key]
        ratio = _ratio(a, b) if isinstance(a, float) and isinstance(b, float) else ""
        print(f"  {label:26}{a!s:>10}{b!s:>10}{ratio:>9}")
    cpu_ok = (o["cpu_s_per_recorded_min"] or 0) <= 1.5 * (f["cpu_s_per_recorded_min"] or 0)
    print(f"  goal CPU <= 1.5x ffmpeg: {'met' if cpu_ok else 'MISSED'}; "
          f"goal RSS <= 50 MB: {'met' if o['peak_rss_mb'] <= 50 else 'MISSED'}")
    if args.json:
        print(json.dumps(figures))
    if o["exit_code"] != 0 or not o["recorded_s"]:
        print(f"the recorder failed: see {work / 'recorder.log'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
