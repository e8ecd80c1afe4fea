"""records with consistent reads, and the API under load (issues 19 and 16 item 7).

Two API processes as deployed (their own processes, the chart's ``api`` rules) on one control
plane and one namespace: one as shipped (records consistent with every write finished before
the call: a version check against the API server, then the watch cache), one with
``--no-consistent-reads`` (the replica's cache as it is: today's figure). The app is filled
through startRecord to 1,000 and then 5,000 tasks, every task given a status as a recording
recorder writes it (counters, the recorder block, the last files). records is timed on both,
in alternating blocks, first with nothing else writing but the control plane's own Lease
renewals (the watch cannot pass their versions: the cache verifies itself with a Table LIST of
the Recordings' versions, once per renewal), then while status writes flow (the watch passes
the version within milliseconds). Each phase says how the consistent API answered (its
``recording_operator_api_record_reads`` metric).

Then the load figures: the API's memory at 5,000 tasks after the writes (peak and now), and the
status write rate recorders cause, measured with real ``StatusReporter``s (the recorder's own
reporting code) on a sample of tasks whose progress changes continuously, scaled to 5,000:
every recorder at the 5 s floor (before), then at the interval the operator gives each
recorder pod at 5,000 Recordings (``model.reporting``).

    python -m bench.api_consistency           # 1,000 and 5,000 tasks
    python -m bench.api_consistency --tiny    # 20 tasks, a few seconds
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    Figure,
    add_common_arguments,
    emit,
    load_average,
    peak_rss_mb,
    percentile,
    rbac_rules,
    rss_mb,
    wait_for,
)
from bench.rig import TOKEN, _command, _spawn, http_client, start_records, time_records
from recording_operator.api.cache import QUIET_SECONDS
from recording_operator.kube.errors import Unavailable
from recording_operator.kube.rest import KubeRest, patch_status
from recording_operator.kube.target import KubeTarget
from recording_operator.local.controlplane import AdminError, ControlPlane
from recording_operator.model.naming import recording_name
from recording_operator.model.reporting import DEFAULT_BUDGET, FLOOR, progress_interval
from recording_operator.model.resource import GROUP, PLURAL, VERSION
from recording_operator.ports import free_port
from recording_operator.recorder.reporter import StatusReporter

GOAL_RECORDS_MS = 100.0
GOAL_API_MB = 256.0
GOAL_WRITES = 300.0
FULL_TASKS = 5_000
NAMESPACE = "bench-consistency"


def _status(n: int, tick: int) -> dict[str, Any]:
    """A status as a recording recorder writes it (its own fields, the operator's state)."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    files = [{"sequence": s, "path": f"/recordings/AbCdEfGhIjKlMnOp_default_app_s{n}_"
              f"20260101000000_20260101000010_{s}.ts", "bytes": 1_250_000,
              "startTime": now, "finishTime": now} for s in range(max(0, tick - 5), tick)]
    return {
        "state": "recording", "startTime": now, "recordBytes": 125_000 * (tick + 1),
        "recordTime": 1000 * (tick + 1), "totalRecordBytes": 1_250_000 * tick,
        "totalRecordTime": 10_000 * tick, "sequence": tick, "files": files,
        "recorder": {"state": "recording", "podUID": f"{n:08d}-0000-0000-0000-000000000000",
                     "updatedTime": now},
    }


class Api:
    def __init__(self, name: str, process: subprocess.Popen[bytes], url: str) -> None:
        self.name, self.process, self.url = name, process, url


@contextmanager
def apis(plane: ControlPlane, workdir: Path) -> Iterator[tuple[Api, Api]]:
    rules = rbac_rules()
    kubeconfig = plane.service_account_kubeconfig(NAMESPACE, "bench-api", rules["api"])
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump({"namespace": NAMESPACE, "vhosts": {"default": {"apps": {
        "app": {"source": "rtmp://127.0.0.1:1/{app}/{stream}"}}}}}))
    started = []
    try:
        for name, extra in (("consistent", []), ("replica cache", ["--no-consistent-reads"])):
            port = free_port()
            process = _spawn(workdir / f"api-{port}.log", [
                *_command(), "api", "--host=127.0.0.1", f"--port={port}",
                f"--config={config}", f"--kubeconfig={kubeconfig}", "--log-level=warning",
                *extra], {"RECORDING_OPERATOR_ACCESS_TOKEN": TOKEN})
            started.append(Api(name, process, f"http://127.0.0.1:{port}"))
        for api in started:
            def up(api: Api = api) -> bool:
                if api.process.poll() is not None:
                    raise RuntimeError(f"the API exited with {api.process.returncode}")
                try:
                    with http_client(api.url) as client:
                        return client.post("/v1/vhosts/default/apps/app:records").status_code \
                            == 200
                except httpx.TransportError:
                    return False
            wait_for(up, 60, f"the {api.name} API")
        yield started[0], started[1]
    finally:
        for api in started:
            api.process.terminate()
            try:
                api.process.wait(15)
            except subprocess.TimeoutExpired:
                api.process.kill()
                api.process.wait()


def _names(first: int, last: int) -> list[str]:
    return [recording_name("default", "app", f"task-{n:05d}") for n in range(first, last)]


def _patch(rest: KubeRest, name: str, status: dict[str, Any]) -> None:
    """A status write, tried again when a loaded API server drops the connection."""
    for attempt in range(5):
        try:
            patch_status(rest, GROUP, VERSION, NAMESPACE, PLURAL, name, status)
            return
        except Unavailable:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def write_statuses(rest_pool: list[KubeRest], names: list[str], tick: int) -> None:
    """One status write per Recording, spread over the pool's connections."""
    def write(index: int) -> None:
        _patch(rest_pool[index % len(rest_pool)], names[index], _status(index, tick))

    with ThreadPoolExecutor(len(rest_pool)) as pool:
        list(pool.map(write, range(len(names))))


class Writer:
    """Status writes at ``rate`` per second (as far as the machine keeps up) until stopped,
    from a child process: the timed records calls must not wait for this one's GIL."""

    def __init__(self, admin: Path, names: list[str], rate: float, threads: int = 8) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._ready = context.Event()
        self._done = context.Value("l", 0)
        self._process = context.Process(
            target=_write,
            args=(str(admin), names, rate, threads, self._ready, self._stop, self._done),
            daemon=True)
        self.started = self.elapsed = 0.0

    def __enter__(self) -> Writer:
        self._process.start()
        if not self._ready.wait(60):
            raise RuntimeError("the status writer did not start")
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(60)
        self.elapsed = time.monotonic() - self.started
        if self._process.exitcode != 0:
            raise RuntimeError(f"the status writer exited with {self._process.exitcode}")

    @property
    def achieved(self) -> float:
        return float(self._done.value) / max(self.elapsed, 1e-9)


def _write(admin: str, names: list[str], rate: float, threads: int, ready: Any, stop: Any,
           done: Any) -> None:
    """The writer process: ``threads`` connections sharing ``rate``."""
    def run(worker: int) -> None:
        rest = KubeRest(KubeTarget(kubeconfig=admin), timeout=60)
        share = rate / threads
        n, tick, sent = worker, 100, 0
        begun = time.monotonic()
        while not stop.is_set():
            due = begun + sent / share
            if due > time.monotonic():
                stop.wait(due - time.monotonic())
                continue
            _patch(rest, names[n % len(names)], _status(n, tick + n // len(names)))
            n += threads
            sent += 1
            with done.get_lock():
                done.value += 1
        rest.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    ready.set()
    for worker in workers:
        worker.join()


def answers(api: Api) -> dict[str, int]:
    """How the API has answered records so far (its ``record_reads`` metric), by answer."""
    with http_client(api.url) as client:
        text = client.get("/v1/notify/metrics").text
    return {sample.labels["answer"]: int(sample.value)
            for family in text_string_to_metric_families(text)
            if family.name == "recording_operator_api_record_reads"
            for sample in family.samples if sample.name.endswith("_total")}


def answered(before: dict[str, int], after: dict[str, int]) -> str:
    """The reads between two :func:`answers`, as "current 150, verified 2, ..."."""
    counts = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) or "none"


def alternate(a: Api, b: Api, plane: ControlPlane, samples: int, expected: int
              ) -> tuple[list[float], list[float], list[float]]:
    """records latencies (ms) on both APIs, and of the API server's own consistent read (a
    LIST of one Recording: the least a consistent records must wait for), in alternating
    blocks of the same length."""
    blocks = 4
    per = max(1, samples // blocks)
    first: list[float] = []
    second: list[float] = []
    server: list[float] = []
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}?limit=1"
    with http_client(a.url) as ca, http_client(b.url) as cb, httpx.Client(
            base_url=plane.url, verify=plane.admin_ssl_context(), timeout=60) as kube:
        for _ in range(blocks):
            first += time_records(ca, per, expected)
            second += time_records(cb, per, expected)
            for _ in range(per):
                began = time.perf_counter()
                kube.get(path).raise_for_status()
                server.append((time.perf_counter() - began) * 1000)
    return first, second, server


def reporter_rate(admin: Path, names: list[str], seconds: float, interval: float) -> float:
    """Status writes per second per recording task, with the recorder's own reporter at
    ``interval`` and a progress that changes continuously (as while recording)."""
    started = time.monotonic()
    ended = threading.Event()
    last: dict[int, dict[str, Any]] = {}

    def snapshot(n: int) -> Callable[[], dict[str, Any]]:
        def take() -> dict[str, Any]:
            # once ended, the last status is final (as a stopped recorder's): close() sends
            # it and returns, instead of chasing a status that changes on every read
            if not (ended.is_set() and n in last):
                last[n] = _status(n, 1 + int((time.monotonic() - started) / 10))
            return last[n]
        return take

    reporters = []
    for n, name in enumerate(names):
        reporter = StatusReporter(NAMESPACE, name, KubeTarget(kubeconfig=str(admin)),
                                  interval=interval)
        reporter.start()
        reporter.begin(snapshot(n))
        reporters.append(reporter)
    time.sleep(seconds)
    patches = sum(r.patches for r in reporters)
    elapsed = time.monotonic() - started
    ended.set()
    with ThreadPoolExecutor(16) as pool:  # each sends its final report
        list(pool.map(lambda r: r.close(timeout=10), reporters))
    return patches / elapsed / len(names)


def measure(levels: list[int], samples: int, reporters: int, report_seconds: float,
            shared_seconds: float, write_rates: list[float],
            workdir: Path) -> tuple[list[Figure], str]:
    figures: list[Figure] = []
    lines = [f"{'tasks':>6}  {'writes':>9}  {'consistent p50':>14}  {'p99':>6}  "
             f"{'replica cache p50':>17}  {'p99':>6}  {'server p50':>10}  {'p99':>6}   "
             "(records; the API server's LIST limit=1; ms)"]
    plane = ControlPlane.start(workdir / "controlplane")
    try:
        plane.apply_crds()
        wait_for(lambda: _served(plane), 30, "the Recording storage")
        plane.create_namespace(NAMESPACE)
        admin = plane.admin_kubeconfig
        pool = [KubeRest(KubeTarget(kubeconfig=str(admin)), timeout=60) for _ in range(8)]
        with apis(plane, workdir) as (consistent, replica):
            filled = 0
            for level in levels:
                start_records(consistent.url, [f"task-{n:05d}" for n in range(filled, level)])
                write_statuses(pool, _names(filled, level), 1)
                filled = level
                names = _names(0, level)
                # both watches have drained the fill's writes and see a quiet namespace (a
                # backlog of them would be timed as "no other writes")
                time.sleep(QUIET_SECONDS + 2.0)
                counts = [answers(consistent)]
                timed = [alternate(consistent, replica, plane, samples, level)]
                labels = ["no other writes"]
                counts.append(answers(consistent))
                for rate in write_rates:
                    with Writer(admin, names, rate) as writer:
                        timed.append(alternate(consistent, replica, plane, samples, level))
                    counts.append(answers(consistent))
                    labels.append(f"{writer.achieved:.0f} status writes/s")
                for phase, (label, (mine, today, server)) in enumerate(
                        zip(labels, timed, strict=True)):
                    how = answered(counts[phase], counts[phase + 1])
                    p99, today99 = percentile(mine, 0.99), percentile(today, 0.99)
                    server99 = percentile(server, 0.99)
                    lines.append(f"{level:>6}  {label[:9]:>9}  {percentile(mine, 0.5):>14.1f}  "
                                 f"{p99:>6.1f}  {percentile(today, 0.5):>17.1f}  "
                                 f"{today99:>6.1f}  {percentile(server, 0.5):>10.1f}  "
                                 f"{server99:>6.1f}")
                    lines.append(f"{'':>6}  {'':>9}  answered: {how}")
                    print(f"  {label}: {lines[-2]}\n  {lines[-1]}", flush=True)
                    goal = level == min(levels)
                    figures.append(Figure(
                        f"records p99 at {level:,} tasks, consistent, {label}", p99, "ms",
                        f"< {GOAL_RECORDS_MS:.0f} ms" if goal else "",
                        p99 < GOAL_RECORDS_MS if goal else None,
                        f"p50 {percentile(mine, 0.5):.1f} ms; {len(mine)} calls ({how}); "
                        f"{load_average()}", [p99]))
                    figures.append(Figure(
                        f"records p99 at {level:,} tasks, replica cache only (before), {label}",
                        today99, "ms", "", None,
                        f"p50 {percentile(today, 0.5):.1f} ms; --no-consistent-reads",
                        [today99]))
                    figures.append(Figure(
                        f"the API server's consistent LIST of one Recording, p99, {level:,} "
                        f"tasks, {label}", server99, "ms", "", None,
                        f"p50 {percentile(server, 0.5):.1f} ms; what a consistent records "
                        "waits for at least", [server99]))
                print(f"  {level} tasks done; {load_average()}", flush=True)
            top = max(levels)
            api_peak = peak_rss_mb(consistent.process.pid)
            api_now = rss_mb(consistent.process.pid)
            figures.append(Figure(
                f"API peak RSS, {top:,} tasks with status writes", api_peak, "MB",
                f"< {GOAL_API_MB:.0f} MB", api_peak < GOAL_API_MB,
                f"now {api_now:.0f} MB; the replica-cache API: peak "
                f"{peak_rss_mb(replica.process.pid):.0f} MB", [api_peak]))
            sample = _names(0, min(reporters, top))
            before = reporter_rate(admin, sample, report_seconds, FLOOR) * FULL_TASKS
            figures.append(Figure(
                f"status writes/s recorders cause at {FULL_TASKS:,} tasks, every recorder at "
                f"the {FLOOR:g} s floor (before)", before, "/s", "", None,
                f"{len(sample)} StatusReporters over {report_seconds:.0f} s", [before]))
            interval = progress_interval(FULL_TASKS)
            per_task = reporter_rate(admin, sample, shared_seconds, interval)
            projected = per_task * FULL_TASKS
            figures.append(Figure(
                f"status writes/s recorders cause at {FULL_TASKS:,} tasks", projected, "/s",
                f"< {GOAL_WRITES:.0f}/s", projected < GOAL_WRITES,
                f"the operator's interval at {FULL_TASKS:,} Recordings, {interval:g} s "
                f"(model.reporting, default budget); {per_task:.4f} writes/s per task, "
                f"measured with {len(sample)} StatusReporters over {shared_seconds:.0f} s, "
                f"progress changing continuously; "
                f"{projected / before if before else float('nan'):.2f}x the floor's",
                [projected]))
        for rest in pool:
            rest.close()
    finally:
        plane.stop()
    return figures, "\n".join(lines)


def _served(plane: ControlPlane) -> bool:
    try:
        plane.request("GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}?limit=1")
    except AdminError as exc:
        if exc.status == 429:
            return False
        raise
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--samples", type=int, default=None, help="timed records calls")
    args = parser.parse_args(argv)
    # status writes while records is timed: what recorders cause under the operator's default
    # budget (model.reporting), and what 1,000 recorders caused at the 5 s floor before it
    rates = [float(DEFAULT_BUDGET), 1000 / FLOOR]
    if args.tiny:
        levels, samples, reporters, seconds, shared = [20], 8, 3, 6.0, 6.0
        rates = [20.0]
    else:
        # the shared interval is 60 s: 150 s sees each reporter's first report and two more
        levels, samples, reporters, seconds, shared = [1000, FULL_TASKS], 200, 100, 30.0, 150.0
    samples = args.samples or samples
    with tempfile.TemporaryDirectory(prefix="bench-consistency-") as tmp:
        figures, text = measure(levels, samples, reporters, seconds, shared, rates, Path(tmp))
    title = ("records with consistent reads beside the replica cache alone, and the API under "
             "load (one run)")
    print(f"\n{text}")
    emit(figures, args.json, title, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
