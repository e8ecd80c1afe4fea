"""Delivery figures (issue 13): upload throughput against a real local S3 store as a ratio to a
plain bulk copy of the same files into the same store in the same run, CPU per GB uploaded,
file finished -> event received latency, and 1,000 queued files drained with the delivery
process's peak RSS.

The delivery process runs as in production (``recording-operator deliver``, its own process);
the files are made the way a recorder finishes them (final name first, then the info XML entry).
The baseline is the cheapest honest copy of the same bytes into the same store: botocore
PUTs one file after another with no hashing and no read-back (what a bulk ``cp`` does). Delivery
does more per file -- MD5 per part and SHA-256 of the whole, Content-MD5 checked by the store, a
HEAD read-back of size and ETag, a journal commit -- and the ratio says what that costs.

    python -m bench.delivery           # 8 x 32 MiB, 40 latency samples, 1,000 queued files
    python -m bench.delivery --tiny    # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

if __package__ in (None, ""):  # run as a script: python bench/delivery.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Figure,
    add_common_arguments,
    cpu_seconds,
    emit,
    load_average,
    median,
    peak_rss_mb,
    percentile,
    spread,
    wait_for,
)
from recording_operator.delivery import signing
from recording_operator.local.s3server import S3Server
from recording_operator.model.timefmt import format_time
from recording_operator.recorder import infofile
from recording_operator.recorder.infofile import InfoEntry

GOAL_RATIO = 0.8
GOAL_P99_S = 1.0
GOAL_RSS_MB = 150.0
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def entry(txid: str, seq: int, rel: str, size: int) -> InfoEntry:
    now = datetime.now(UTC)
    return InfoEntry(transaction_id=txid, id=f"bench-{txid}", metadata="", vhost="default",
                     app="app", stream="stream", file_path=rel, record_bytes=size,
                     record_time=10_000, sequence=seq, last_sequence=False,
                     created_time=format_time(now), start_time=format_time(now),
                     finish_time=format_time(now))


def make_files(root: Path, txid: str, count: int, size: int) -> list[InfoEntry]:
    """``count`` files of ``size`` random bytes; their info XML written once, at the end."""
    entries = []
    block = os.urandom(min(size, 1 << 20))
    for seq in range(1, count + 1):
        rel = f"{txid}_{seq}.ts"
        with open(root / rel, "wb") as out:
            left = size
            while left > 0:
                out.write(block[:left])
                left -= len(block)
        entries.append(entry(txid, seq, rel, size))
    return entries


def write_info(root: Path, txid: str, entries: list[InfoEntry]) -> None:
    infofile.write_atomically(root / f"{txid}.xml", infofile.render(entries))


def deliver(tmp: Path, root: Path, app: dict[str, Any], env: dict[str, str], log: Path,
            ) -> subprocess.Popen[bytes]:
    config = tmp / f"config-{time.monotonic_ns()}.yaml"
    config.write_text(yaml.safe_dump({"vhosts": {"default": {"apps": {"app": {
        "source": "rtmp://127.0.0.1/app/{stream}", **app}}}}}))
    return subprocess.Popen(
        [sys.executable, "-m", "recording_operator.cli.main", "deliver", f"--config={config}",
         f"--app-root=default/app={root}", f"--state-dir={root.parent / (root.name + '.state')}",
         "--no-kube", "--metrics-port=0"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env={**os.environ, **env})


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def count_objects(client: Any, bucket: str, suffix: str = ".ts") -> int:
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        total += sum(1 for item in page.get("Contents", []) if item["Key"].endswith(suffix))
    return total


def started(process: subprocess.Popen[bytes], log: Path) -> None:
    """Waits until the process says it is ready (imports done, S3 client made): what follows
    is measured from the info XML write, as a running delivery process sees it."""
    wait_for(lambda: process.poll() is not None or "ready: delivering" in log.read_text(), 120,
             "delivery to start")
    if process.poll() is not None:
        raise RuntimeError(f"deliver exited: {log.read_text()[-2000:]}")


def throughput(tmp: Path, s3: S3Server, env: dict[str, str], count: int, size: int,
               ) -> tuple[float, float, float]:
    """(our seconds, baseline seconds, our CPU seconds) for the same files."""
    client = s3.client()
    root = tmp / f"tp-{time.monotonic_ns()}"
    root.mkdir()
    entries = make_files(root, "tp", count, size)
    s3.create_bucket("base")
    begin = time.monotonic()
    for e in entries:
        with open(root / e.file_path, "rb") as body:
            client.put_object(Bucket="base", Key=e.file_path, Body=body)
    baseline = time.monotonic() - begin
    s3.create_bucket("ours")
    log = tmp / "deliver-throughput.log"
    process = deliver(tmp, root, {"upload": {"url": "s3://ours", "endpoint": s3.endpoint,
                                             "deleteLocal": False}}, env, log)
    try:
        started(process, log)
        cpu0 = cpu_seconds(process.pid)
        begin = time.monotonic()
        write_info(root, "tp", entries)
        wait_for(lambda: count_objects(client, "ours") == count, 600, "our upload", 0.2)
        ours = time.monotonic() - begin
        cpu = cpu_seconds(process.pid) - cpu0
    finally:
        stop(process)
    for bucket in ("base", "ours"):
        for e in entries:
            client.delete_object(Bucket=bucket, Key=e.file_path)
        client.delete_object(Bucket=bucket, Key="tp.xml")
        client.delete_bucket(Bucket=bucket)
    return ours, baseline, cpu


class Receiver:
    """Records when each file.finished event arrives (and checks its signature)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.bad = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                now = time.monotonic()
                try:
                    signing.verify(SECRET, dict(self.headers.items()), body)
                    event = json.loads(body)
                    if event["type"].endswith("file.finished"):
                        receiver.arrived.setdefault(event["data"]["filePath"], now)
                except (signing.SignatureError, ValueError, KeyError):
                    receiver.bad += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def latency(tmp: Path, samples: int) -> list[float]:
    """File finished (its info XML entry written) -> its file.finished event received."""
    root = tmp / "lat"
    root.mkdir()
    receiver = Receiver()
    log = tmp / "deliver-latency.log"
    process = deliver(tmp, root, {"events": [{"url": receiver.url, "secret": SECRET}]}, {}, log)
    finished: dict[str, float] = {}
    try:
        started(process, log)
        entries: list[InfoEntry] = []
        for seq in range(1, samples + 1):
            rel = f"lat_{seq}.ts"
            (root / rel).write_bytes(b"\0" * 1024)
            entries.append(entry("lat", seq, rel, 1024))
            write_info(root, "lat", entries)
            finished[rel] = time.monotonic()
            time.sleep(0.37)  # files finish at their own pace, out of step with the poll
        wait_for(lambda: len(receiver.arrived) == samples, 60, "every event")
    finally:
        stop(process)
        receiver.close()
    if receiver.bad:
        raise RuntimeError(f"{receiver.bad} events failed the signature check")
    return [receiver.arrived[rel] - at for rel, at in finished.items()]


def drain(tmp: Path, s3: S3Server, env: dict[str, str], count: int) -> tuple[float, float]:
    """(seconds to drain, peak RSS MB) for ``count`` small files queued before start."""
    root = tmp / "drain"
    root.mkdir()
    per_tx = 100
    for tx in range(0, count, per_tx):
        txid = f"d{tx // per_tx}"
        write_info(root, txid, make_files(root, txid, min(per_tx, count - tx), 16 * 1024))
    s3.create_bucket("drain")
    log = tmp / "deliver-drain.log"
    begin = time.monotonic()
    process = deliver(tmp, root, {"upload": {"url": "s3://drain", "endpoint": s3.endpoint}},
                      env, log)
    try:
        wait_for(lambda: not any(p.suffix == ".ts" for p in root.iterdir()), 900,
                 "the queue drained", 0.2)
        took = time.monotonic() - begin
        rss = peak_rss_mb(process.pid)
    finally:
        stop(process)
    return took, rss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.tiny else 3)
    count, size = (3, 1 << 20) if args.tiny else (8, 32 << 20)
    samples = 6 if args.tiny else 40
    queued = 50 if args.tiny else 1000
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as name:
        tmp = Path(name)
        with S3Server.launch(tmp / "s3") as s3:
            env = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key,
                   "AWS_REGION": s3.region}
            ratios, cpu_per_gb, rates, times = [], [], [], []
            for run in range(runs):
                ours, base, cpu = throughput(tmp, s3, env, count, size)
                gb = count * size / 1e9
                ratios.append(base / ours)
                cpu_per_gb.append(cpu / gb)
                rates.append(count * size / ours / 1e6)
                times.append(f"{ours:.1f}/{base:.1f}")
                print(f"  run {run}: ours {ours:.2f} s, baseline {base:.2f} s, ratio "
                      f"{base / ours:.2f}, CPU {cpu:.2f} s; {load_average()}", flush=True)
            delays = latency(tmp, samples)
            took, rss = drain(tmp, s3, env, queued)
    mb = count * size / 2**20
    figures.append(Figure(
        "upload throughput, x a plain bulk PUT of the same files", median(ratios), "x",
        f">= {GOAL_RATIO}", median(ratios) >= GOAL_RATIO,
        f"{count} files of {size >> 20} MiB ({mb:.0f} MiB) per run; ours "
        f"{median(rates):.0f} MB/s; {spread(ratios, 'x', 2)}; ours/baseline s: "
        f"{', '.join(times)}", ratios))
    figures.append(Figure("delivery CPU per GB uploaded", median(cpu_per_gb), "s", "", None,
                          spread(cpu_per_gb, "s"), cpu_per_gb))
    figures.append(Figure(
        "file finished → event received p99", percentile(delays, 0.99), "s",
        f"< {GOAL_P99_S:.0f} s", percentile(delays, 0.99) < GOAL_P99_S,
        f"{samples} files, median {median(delays):.2f} s (poll 0.5 s)", delays))
    figures.append(Figure("delivery peak RSS, queued files drained", rss, "MB",
                          f"< {GOAL_RSS_MB:.0f} MB", rss < GOAL_RSS_MB,
                          f"{queued} files of 16 KiB queued before start, drained in "
                          f"{took:.1f} s ({queued / took:.0f} files/s)", [rss]))
    emit(figures, args.json, "Delivery (S3 upload, events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
