"""Reservation and stop latency, through the embedded stack (control plane, operator, API, the
local pod runner, nginx-rtmp), as a user sees them: REST calls, an RTMP publish, files on disk.

Each run reserves a task (startRecord for a stream nobody publishes yet), waits until it is
``ready`` and then a few more seconds, so the recorder is in its steady wait for the stream
(the wait is randomised: the publish lands at any point of the recorder's retry cycle), then:

* reservation latency: the publisher starts → the first byte of the recording on disk, side by
  side for an app whose nginx-rtmp reports publishes to the API (on_publish: the API wakes the
  waiting recorder at once) and one it does not (the recorder's polling alone), each with its
  own reservation and publisher, started together. Goals: with notifications < 0.5 s plus one
  GOP (the clip has a 1 s GOP: < 1.5 s); polling alone < 2 s plus one GOP (< 3 s);
* after a few seconds of recording, stop latency: stopRecord → the last file finished (under
  its final name, no temporary file left) and the task gone from records. Goal: < 3 s.

The stack runs with the operator's default settings, as ``recording-operator dev`` does.

Side by side, the same publish is also timed on two recorders alone (``recording-operator
record`` without Kubernetes, started with the reservation), one with the default ``--retry-max``
and one with 1 s: the recorder polls an absent stream with a capped backoff, and that cap
decides most of the reservation latency. And the time to open a stream that is already live
(PyAV, as the recorder opens it) is timed for the recorder's ``analyzeduration`` and a shorter
one: the recorder learns the stream's tracks before it writes, which is the rest.

    python bench/stream_latency.py          # 8 runs
    python bench/stream_latency.py --tiny   # 1 run, shorter waits
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/stream_latency.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import (
    Figure,
    add_common_arguments,
    emit,
    load_average,
    median,
    spread,
    wait_for,
)
from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher, make_clip
from recording_operator.local.stack import EmbeddedStack, StackOptions
from recording_operator.ports import free_port

TOKEN = "bench-token"
FPS = 25
GOP_SECONDS = 1.0
GOAL_RESERVATION = 2.0 + GOP_SECONDS
GOAL_NOTIFIED = 0.5 + GOP_SECONDS
#: The app nginx-rtmp reports (on_publish) and the one it does not.
NOTIFIED, POLLED = "app", "polled"
GOAL_STOP = 3.0
POLL = 0.01
#: ``recording-operator record --retry-max``'s default
DEFAULT_RETRY_MAX = 1.0
CAPS = (DEFAULT_RETRY_MAX, 5.0)


class Api:
    def __init__(self, base: str) -> None:
        import base64

        auth = base64.b64encode(TOKEN.encode()).decode()
        self.client = httpx.Client(base_url=base, timeout=10,
                                   headers={"Authorization": f"Basic {auth}"})

    def call(self, action: str, body: dict[str, Any], app: str = NOTIFIED) -> Any:
        answer = self.client.post(f"/vhosts/default/apps/{app}:{action}", json=body)
        if answer.status_code != 200:
            raise RuntimeError(f"{action}: {answer.status_code} {answer.text}")
        return answer.json()["response"]

    def task(self, record_id: str, app: str = NOTIFIED) -> dict[str, Any] | None:
        tasks = self.call("records", {"id": record_id}, app)
        return tasks[0] if tasks else None


def _media_files(directory: Path) -> list[os.DirEntry[str]]:
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as entries:
        return [e for e in entries if e.name.endswith(".ts")]
    return []


def first_byte(directory: Path) -> bool:
    return any(e.stat().st_size > 0 for e in _media_files(directory))


def finished(directory: Path) -> bool:
    files = _media_files(directory)
    return bool(files) and not any(".recording." in e.name for e in files)


def _recorder(workdir: Path, url: str, stream: str, retry_max: float
              ) -> tuple[subprocess.Popen[bytes], Path]:
    """Our recorder on its own: no Kubernetes, files under ``workdir/out``."""
    out = workdir / "out"
    out.mkdir(parents=True)
    spec = {"recording": {"namespace": "bench", "name": stream}, "id": stream,
            "vhost": "default", "app": "app", "stream": stream,
            "transactionId": "BENCH00000000000", "sourceUrl": url,
            "filePath": "${Sequence}.ts", "infoPath": "info.xml"}
    (workdir / "spec.json").write_text(json.dumps(spec))
    with (workdir / "recorder.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "recording_operator.cli.main", "record", "--no-report",
             "--spec-file", str(workdir / "spec.json"), "--storage-root", str(out),
             "--retry-max", f"{retry_max:g}"], stdout=log, stderr=log)
    return process, out


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Result:
    reservation: float
    #: the same, for the app nginx-rtmp does not report (polling alone)
    polled: float
    stop: float
    file_done: float
    gone: float
    #: reservation latency of the recorder alone, by --retry-max
    alone: dict[float, float]


def one_run(stack: EmbeddedStack, api: Api, clip: Path, n: int, hold: float,
            record_for: float, workdir: Path) -> Result:
    assert stack.media is not None
    stream = f"bench{n}x{random.randrange(1 << 20):x}"
    rid = f"latency-{stream}"
    url = stack.media.rtmp_url(NOTIFIED, stream)
    directory = stack.recordings_dir / "default" / NOTIFIED / stream
    polled_dir = stack.recordings_dir / "default" / POLLED / stream
    for app in (NOTIFIED, POLLED):
        api.call("startRecord", {"id": rid, "stream": {"name": stream},
                                 "filePath": f"{stream}/${{Sequence}}.ts",
                                 "infoPath": f"{stream}/info.xml"}, app)
    alone = {cap: _recorder(workdir / f"{stream}-{cap:g}", url, stream, cap) for cap in CAPS}
    publisher = Publisher.clip(clip, url)
    polled_publisher = Publisher.clip(clip, stack.media.rtmp_url(POLLED, stream))
    try:
        for app in (NOTIFIED, POLLED):
            def ready(app: str = app) -> bool:
                return (api.task(rid, app) or {}).get("state") == "ready"

            wait_for(ready, 30, "the reservation", 0.1)
        time.sleep(hold)
        if first_byte(directory) or first_byte(polled_dir):
            raise RuntimeError("a file appeared before the stream was published")

        started = time.monotonic()
        publisher.start()
        polled_publisher.start()
        reservation = polled = None
        alone_s: dict[float, float] = {}
        while reservation is None or polled is None or len(alone_s) < len(CAPS):
            now = time.monotonic() - started
            if now > 60:
                raise RuntimeError("no first byte on disk within 60 s")
            if reservation is None and first_byte(directory):
                reservation = now
            if polled is None and first_byte(polled_dir):
                polled = now
            for cap, (_, out) in alone.items():
                if cap not in alone_s and first_byte(out):
                    alone_s[cap] = now
            time.sleep(POLL)
        _stop_all([process for process, _ in alone.values()])
        polled_publisher.stop()
        api.call("stopRecord", {"id": rid}, POLLED)
        wait_for(lambda: (api.task(rid) or {}).get("state") == "recording", 30,
                 "state recording", 0.1)
        time.sleep(record_for)

        started = time.monotonic()
        answer = api.call("stopRecord", {"id": rid})
        if answer["state"] != "stopping":
            raise RuntimeError(f"stopRecord answered state {answer['state']}")
        file_done = gone = None
        deadline = started + 60
        while (file_done is None or gone is None) and time.monotonic() < deadline:
            if file_done is None and finished(directory):
                file_done = time.monotonic() - started
            if gone is None and api.task(rid) is None:
                gone = time.monotonic() - started
            time.sleep(POLL)
        if file_done is None or gone is None:
            raise RuntimeError(f"the stop did not complete within 60 s (file finished: "
                               f"{file_done}, task gone: {gone})")
    finally:
        publisher.stop()
        polled_publisher.stop()
        _stop_all([process for process, _ in alone.values()])
    result = Result(reservation, polled, max(file_done, gone), file_done, gone, alone_s)
    print(f"  run {n}: reservation {reservation:.2f} s notified, {polled:.2f} s polled "
          f"(published {hold:.1f} s after ready; recorder alone: "
          + ", ".join(f"--retry-max {cap:g} {alone_s[cap]:.2f} s" for cap in CAPS)
          + f"); stop {result.stop:.2f} s (file finished {file_done:.2f} s, task gone "
          f"{gone:.2f} s); {load_average()}", flush=True)
    return result


def open_times(server: MediaServer, clip: Path, analyze: tuple[int, ...], tries: int
               ) -> dict[int, list[float]]:
    """Seconds to open an already-live RTMP stream, by ``analyzeduration`` (µs)."""
    import av

    results: dict[int, list[float]] = {us: [] for us in analyze}
    url = server.rtmp_url("app", "bench-open")
    publisher = Publisher.clip(clip, url)
    try:
        publisher.start()
        server.wait_live("app", "bench-open", timeout=15)
        for _ in range(tries):
            for us in analyze:
                started = time.monotonic()
                container = av.open(url, timeout=10,
                                    options={"rtmp_live": "live", "analyzeduration": str(us)})
                results[us].append(time.monotonic() - started)
                container.close()
    finally:
        publisher.stop()
    return results


def measure(runs: int, hold: tuple[float, float], record_for: float, workdir: Path,
            operator_args: list[str]) -> list[Figure]:
    from recording_operator.recorder.source import SourceOptions

    clip = make_clip(workdir / "clip.mp4", seconds=4, fps=FPS, gop_frames=round(FPS * GOP_SECONDS))
    rtmp_port = free_port()
    source = f"rtmp://127.0.0.1:{rtmp_port}/{{app}}/{{stream}}"
    config = workdir / "config.yaml"
    config.write_text(json.dumps({"vhosts": {"default": {"apps": {
        NOTIFIED: {"source": source}, POLLED: {"source": source}}}}}))
    options = StackOptions(port=free_port(), rtmp_port=rtmp_port, access_token=TOKEN,
                           demo=False, data_dir=workdir / "stack", log_level="warning",
                           operator_args=operator_args, config=config,
                           notify_apps=frozenset({NOTIFIED}))
    analyze = (SourceOptions().analyze_us, 500_000)
    results = []
    with contextlib.redirect_stdout(sys.stderr), EmbeddedStack(options) as stack:
        api = Api(stack.api_url)
        try:
            for n in range(runs):
                results.append(one_run(stack, api, clip, n, random.uniform(*hold), record_for,
                                       workdir / "alone"))
        finally:
            api.client.close()
        assert stack.media is not None
        opened = open_times(stack.media, clip, analyze, min(runs, 3))
    reservations = [r.reservation for r in results]
    polled = [r.polled for r in results]
    stops = [r.stop for r in results]
    figures = [
        Figure("reservation with publish notifications: publish → first byte on disk",
               median(reservations), "s", f"< 0.5 s + 1 GOP ({GOAL_NOTIFIED:.1f} s)",
               median(reservations) < GOAL_NOTIFIED,
               f"nginx-rtmp on_publish → API → the waiting recorder woken; published "
               f"{hold[0]:.0f}-{hold[1]:.0f} s after the task was ready; "
               f"{spread(reservations, 's', 2)}", reservations),
        Figure("reservation: publish → first byte on disk, polling (no notifications)",
               median(polled), "s", f"< 2 s + 1 GOP ({GOAL_RESERVATION:.0f} s)",
               median(polled) < GOAL_RESERVATION,
               f"the same moment, an app nginx-rtmp does not report; "
               f"notified/polled {median(reservations) / median(polled):.2f}; "
               f"{spread(polled, 's', 2)}", polled),
        Figure("stop: stopRecord → file finished, task gone", median(stops), "s",
               f"< {GOAL_STOP:.0f} s", median(stops) < GOAL_STOP,
               f"file finished {median([r.file_done for r in results]):.2f} s, gone from "
               f"records {median([r.gone for r in results]):.2f} s (medians); "
               f"{spread(stops, 's', 2)}", stops),
    ]
    for cap in CAPS:
        alone = [r.alone[cap] for r in results]
        figures.append(Figure(
            f"reservation, recorder alone, --retry-max {cap:g}"
            + (" (default)" if cap == DEFAULT_RETRY_MAX else ""),
            median(alone), "s", f"< {GOAL_RESERVATION:.0f} s", median(alone) < GOAL_RESERVATION,
            f"the same publishes, side by side; {spread(alone, 's', 2)}", alone))
    for us in analyze:
        figures.append(Figure(
            f"open a live RTMP stream, analyzeduration {us / 1e6:g} s"
            + (" (recorder's)" if us == analyze[0] else ""),
            median(opened[us]), "s", "", None,
            f"PyAV, as the recorder opens it; {spread(opened[us], 's', 2)}", opened[us]))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--operator-arg", action="append", default=[],
                        help="an extra flag for recording-operator run (repeatable)")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.tiny else 8)
    hold = (0.5, 1.0) if args.tiny else (8.0, 14.0)
    record_for = 1.0 if args.tiny else 3.0
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        figures = measure(runs, hold, record_for, Path(tmp), args.operator_arg)
    emit(figures, args.json, f"Stream latency through the embedded stack ({runs} runs, medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
