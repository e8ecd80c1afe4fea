"""CPU and memory of our recorder against ``ffmpeg -c copy -f segment``, on one live source.

Both pull the same RTMP stream from a local nginx-rtmp at the same time, split it every
``--split`` seconds into MPEG-TS files, and are stopped with SIGTERM. The recorder runs as in a
pod: the info XML on, and its status reported to its Recording on the local Kubernetes control
plane under the recorder's own ServiceAccount and rules (``--no-report``: without, and without
the control plane; ``--tiny`` implies it). For each we report:

* CPU seconds per recorded minute (user + system, from the kernel's accounting of the process;
  "recorded minute" is the media time found in its output files), over the whole run and in the
  steady state (after start-up, sampled from /proc while both are recording);
* peak RSS (``ru_maxrss``); the pod's peak, the sum of the RSS of every process of the recorder
  (sampled every 0.2 s; a recorder pod runs nothing else); at the end of the run, the private
  (unshared) memory and the PSS;
* the recorder's start-up: process start to "opening the stream" in its log, and what importing
  the record command's modules costs in a fresh interpreter (time and peak RSS).

Goals (issue 12): ≤ 1.5x ffmpeg's CPU over a 5-minute recording; the pod's peak ≤ 64 MiB;
start-up < 1 s.

    python bench/recorder_cpu.py            # 5 minutes of 720p30, 20 s splits, reporting on
    python bench/recorder_cpu.py --tiny     # a quick smoke run (make test runs this)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import av

if __package__ in (None, ""):  # run as a script: python bench/recorder_cpu.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher, find_ffmpeg, make_clip

CLK_TCK = os.sysconf("SC_CLK_TCK")
GOAL_POD_MB = 64.0  # MiB: the figures below are KiB / 1024


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
    tree_peak_kb: int = 0
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

    def sample_tree(self) -> None:
        """The RSS of the process and its descendants now; keeps the peak (the pod's)."""
        total, pending, seen = 0, [self.process.pid], set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            pending.extend(int(c) for c in children)
        self.tree_peak_kb = max(self.tree_peak_kb, total)

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


IMPORTS = """
import resource, time
t = time.perf_counter()
from recording_operator.cli.main import build_parser
build_parser("record")
from recording_operator.cli import record_cmd
from recording_operator.model.resolved import ResolvedRecording
from recording_operator.recorder.main import run, job_problem
from recording_operator.recorder.reporter import StatusReporter
from recording_operator.recorder import writer, bitstream, source
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def import_cost() -> tuple[float, float]:
    """Seconds and peak RSS (MB) of importing what ``record`` loads, in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def start_up_s(log: Path, started_wall: float) -> float | None:
    """Process start to the recorder's first "opening the stream" (its log's timestamps)."""
    for line in log.read_text(errors="replace").splitlines():
        if "opening the stream" in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            return stamp.timestamp() - started_wall
    return None


class Reporting:
    """A Recording on the local control plane and a kubeconfig for the recorder's account."""

    def __init__(self, work: Path) -> None:
        from bench.common import rbac_rules
        from recording_operator.local.controlplane import ControlPlane
        from recording_operator.model.resource import GROUP, PLURAL, VERSION

        self.plane = ControlPlane.start(work / "controlplane")
        try:
            self.plane.apply_crds()
            self.kubeconfig = self.plane.service_account_kubeconfig(
                "bench", "recorder", rbac_rules()["recorder"])
            self.plane.request("POST", f"/apis/{GROUP}/{VERSION}/namespaces/bench/{PLURAL}", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "Recording",
                "metadata": {"name": "bench", "namespace": "bench"},
                "spec": {"id": "bench", "vhost": "default", "app": "app",
                         "stream": {"name": "bench"}},
            })
            self._path = f"/apis/{GROUP}/{VERSION}/namespaces/bench/{PLURAL}/bench/status"
        except BaseException:
            self.plane.stop()
            raise

    def status(self) -> dict[str, object]:
        status: dict[str, object] = self.plane.request("GET", self._path).get("status") or {}
        return status

    def stop(self) -> None:
        self.plane.stop()


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a quick smoke run (~30 s)")
    parser.add_argument("--seconds", type=float, default=None, help="how long to record")
    parser.add_argument("--split", type=float, default=None, help="split interval, seconds")
    parser.add_argument("--size", default=None, help="video size, e.g. 1280x720")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--no-report", action="store_true",
                        help="no status reporting (and no control plane)")
    args = parser.parse_args(argv)
    report = not (args.no_report or args.tiny)
    # tiny: long enough that a recorder started on a loaded machine (make test runs every
    # benchmark at once) still records something after its start-up
    seconds = args.seconds or (20.0 if args.tiny else 300.0)
    split = args.split or (3.0 if args.tiny else 20.0)
    size = args.size or ("320x180" if args.tiny else "1280x720")
    fps = 25 if args.tiny else 30

    work = Path(tempfile.mkdtemp(prefix="bench-recorder-"))
    imports_s, imports_mb = import_cost()
    reporting = Reporting(work) if report else None
    clip = make_clip(work / "clip.mp4", seconds=4 if args.tiny else 10, fps=fps,
                     gop_frames=fps * 2, size=size)
    clip_rate = clip.stat().st_size * 8 / (4 if args.tiny else 10) / 1e6
    server = MediaServer.start(workdir=work / "nginx", hls=False)
    publisher = Publisher.clip(clip, server.rtmp_url("app", "bench")).start()
    runs: list[Run] = []
    started_wall = 0.0
    reported: dict[str, object] = {}
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
        command = [sys.executable, "-m", "recording_operator.cli.main", "record",
                   "--spec-file", str(work / "spec.json"), "--storage-root", str(ours_dir)]
        command += (["--kubeconfig", str(reporting.kubeconfig)] if reporting else
                    ["--no-report"])
        started_wall = time.time()
        runs.append(Run("recorder", subprocess.Popen(command, stdout=log, stderr=log),
                        ours_dir))
        runs.append(Run("ffmpeg", subprocess.Popen(
            [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error",
             "-rtmp_live", "live", "-i", url, "-map", "0", "-c", "copy",
             "-f", "segment", "-segment_time", str(split), "-reset_timestamps", "1",
             str(ffmpeg_dir / "%05d.ts")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), ffmpeg_dir))
        started = time.monotonic()

        def sampled_sleep(until: float) -> None:
            while time.monotonic() < until:
                for run in runs:
                    run.sample_tree()
                time.sleep(0.2)

        warmup = min(5.0, seconds / 3)
        sampled_sleep(started + warmup)
        for run in runs:
            run.steady_from = run.cpu_now()
        steady_start = time.monotonic()
        sampled_sleep(started + seconds)
        for run in runs:
            run.steady_cpu = run.cpu_now() - run.steady_from
            run.steady_wall = time.monotonic() - steady_start
            run.memory_now()
        for run in runs:
            run.finish()
        log.close()
        if reporting:
            reported = reporting.status()
    finally:
        if reporting:
            reporting.stop()
        for run in runs:
            if run.process.poll() is None and run.exit_code is None:
                run.process.kill()
        publisher.stop()
        server.stop()

    figures: dict[str, dict[str, Any]] = {}
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
            "pod_peak_mb": round(run.tree_peak_kb / 1024, 1),
            "exit_code": run.exit_code,
        }
    figures["recorder"].update({
        "start_up_s": start_up_s(work / "recorder.log", started_wall),
        "imports_s": round(imports_s, 3), "imports_peak_rss_mb": round(imports_mb, 1),
        "reporting": report,
        "reported_files": len(reported.get("files") or []) if report else None,  # type: ignore[arg-type]
    })
    o, f = figures["recorder"], figures["ffmpeg"]
    print(f"recorder vs ffmpeg -c copy -f segment: {seconds:.0f} s of RTMP {size}@{fps} "
          f"H.264 (~{clip_rate:.1f} Mb/s) + AAC, {split:g} s splits, same live source; "
          f"info XML on; status reporting {'on (local control plane)' if report else 'off'}")
    rows = [
        ("recorded media, s", "recorded_s"),
        ("CPU s (whole run)", "cpu_s"),
        ("CPU s / recorded minute", "cpu_s_per_recorded_min"),
        ("CPU s / minute, steady", "steady_cpu_s_per_min"),
        ("peak RSS, MB", "peak_rss_mb"),
        ("pod peak (all processes), MB", "pod_peak_mb"),
        ("private memory, MB", "private_mb"),
        ("PSS, MB", "pss_mb"),
    ]
    print(f"  {'':30}{'ours':>10}{'ffmpeg':>10}{'ratio':>9}")
    for label, key in rows:
        a, b = o[key], f[key]
        ratio = _ratio(a, b) if isinstance(a, float) and isinstance(b, float) else ""
        print(f"  {label:30}{a!s:>10}{b!s:>10}{ratio:>9}")
    print(f"  start-up to opening the stream: {o['start_up_s'] or float('nan'):.2f} s; imports "
          f"{o['imports_s']:.2f} s, peak RSS {o['imports_peak_rss_mb']} MB")
    cpu_ok = (o["cpu_s_per_recorded_min"] or 0) <= 1.5 * (f["cpu_s_per_recorded_min"] or 0)
    pod_ok = max(o["pod_peak_mb"], o["peak_rss_mb"]) <= GOAL_POD_MB
    print(f"  goal CPU <= 1.5x ffmpeg: {'met' if cpu_ok else 'MISSED'}; "
          f"goal pod peak <= 64 MiB: {'met' if pod_ok else 'MISSED'}")
    if args.json:
        print(json.dumps(figures))
    if o["exit_code"] != 0 or not o["recorded_s"]:
        print(f"the recorder failed: see {work / 'recorder.log'}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)  # minutes of 720p: kept only when something failed
    return 0


if __name__ == "__main__":
    sys.exit(main())
