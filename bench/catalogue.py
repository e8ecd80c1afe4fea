"""Catalogue figures (issue 15): the recordings query (files of one stream overlapping a time
range) p99 at 10^6 files, in SQLite and in PostgreSQL (a real private server from Debian's
package), through the same call the API makes (``files_in_range``).

The baseline, in the same run on the same rows, is the plain overlap query without the
catalogue's per-stream look-back bound (``finish > start AND start < end`` on the same index),
which reads every earlier index entry of the stream: the ratio says what the bound buys as a
stream's history grows. The rows are bulk-loaded (SQLite executemany, PostgreSQL COPY), since
the event path's own rate is not what is measured; each query's answer is checked (a 15-minute
range of 20 s files holds 45 or 46 files).

    python -m bench.catalogue           # 10^6 files (200 streams x 5,000), 1,000 queries each
    python -m bench.catalogue --tiny    # 2,000 files, 100 queries
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/catalogue.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench.common import Figure, add_common_arguments, emit, median, percentile
from recording_operator.catalogue import Catalogue, files_in_range
from recording_operator.catalogue.schema import FileRecord
from recording_operator.local.postgres import PostgresServer

GOAL_P99_MS = 50.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FILE_SECONDS = 20
RANGE = timedelta(minutes=15)
COLUMNS = ("vhost", "app", "stream", "record_id", "transaction_id", "sequence",
           "last_sequence", "file_path", "metadata_text", "created_time", "start_time",
           "finish_time", "record_time_ms", "bytes", "local", "url")


def rows(streams: int, per_stream: int) -> Iterator[tuple[object, ...]]:
    for k in range(streams):
        for i in range(per_stream):
            start = T0 + timedelta(seconds=i * FILE_SECONDS)
            finish = start + timedelta(seconds=FILE_SECONDS)
            yield ("default", "app", f"s{k}", f"rec{k}", f"tx{k}", i, i == per_stream - 1,
                   f"app/s{k}/tx{k}_{i}.mp4", "", start, start, finish,
                   FILE_SECONDS * 1000, 4_000_000, True, None)


def _sqlite_time(moment: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def load(catalogue: Catalogue, streams: int, per_stream: int) -> float:
    """Bulk-loads the rows and the per-stream extents; returns the seconds it took."""
    began = time.monotonic()
    raw = catalogue.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if catalogue.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY files ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows(streams, per_stream):
                    copy.write_row(row)
            cursor.executemany(
                "INSERT INTO streams (vhost, app, stream, longest_seconds) VALUES "
                "(%s, %s, %s, %s)", [("default", "app", f"s{k}", FILE_SECONDS)
                                     for k in range(streams)])
            raw.commit()
            cursor.execute("ANALYZE")
        else:
            marks = ", ".join("?" * len(COLUMNS))
            cursor.executemany(
                f"INSERT INTO files ({', '.join(COLUMNS)}) VALUES ({marks})",
                ((*r[:9], *(_sqlite_time(t) for t in r[9:12]), *r[12:])  # type: ignore[arg-type]
                 for r in rows(streams, per_stream)))
            cursor.executemany(
                "INSERT INTO streams (vhost, app, stream, longest_seconds) VALUES (?, ?, ?, ?)",
                [("default", "app", f"s{k}", FILE_SECONDS) for k in range(streams)])
            raw.commit()
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return time.monotonic() - began


def _ranges(streams: int, per_stream: int, queries: int) -> list[tuple[str, datetime]]:
    rng = random.Random(15)
    span = per_stream * FILE_SECONDS - int(RANGE.total_seconds())
    return [(f"s{rng.randrange(streams)}", T0 + timedelta(seconds=rng.randrange(span)))
            for _ in range(queries)]


def query_ms(catalogue: Catalogue, ranges: list[tuple[str, datetime]]) -> list[float]:
    samples = []
    for stream, start in ranges:
        began = time.perf_counter()
        found = files_in_range(catalogue, "default", "app", stream, start, start + RANGE)
        samples.append((time.perf_counter() - began) * 1000)
        if len(found) not in (45, 46):
            raise AssertionError(f"{stream} {start}: {len(found)} files, expected 45 or 46")
    return samples


def naive_ms(catalogue: Catalogue, ranges: list[tuple[str, datetime]]) -> list[float]:
    """The baseline: the overlap query without the look-back bound."""
    samples = []
    with catalogue.engine.connect() as conn:
        for stream, start in ranges:
            end = start + RANGE
            began = time.perf_counter()
            found = conn.execute(select(FileRecord.__table__).where(
                FileRecord.vhost == "default", FileRecord.app == "app",
                FileRecord.stream == stream, FileRecord.finish_time > start,
                FileRecord.start_time < end).order_by(FileRecord.start_time)).all()
            samples.append((time.perf_counter() - began) * 1000)
            assert len(found) in (45, 46)
    return samples


def measure(name: str, url: str, streams: int, per_stream: int, queries: int
            ) -> list[Figure]:
    catalogue = Catalogue.open(url)
    try:
        took = load(catalogue, streams, per_stream)
        total = streams * per_stream
        ranges = _ranges(streams, per_stream, queries)
        query_ms(catalogue, ranges[: max(10, queries // 10)])  # warm the cache
        ours = query_ms(catalogue, ranges)
        base = naive_ms(catalogue, ranges)
    finally:
        catalogue.close()
    p99, base_p99 = percentile(ours, 0.99), percentile(base, 0.99)
    print(f"  {name}: loaded {total} rows in {took:.1f} s; p99 {p99:.2f} ms, "
          f"naive p99 {base_p99:.2f} ms", flush=True)
    return [
        Figure(f"catalogue query p99, {name}, {total:,} files", p99, "ms",
               f"< {GOAL_P99_MS:.0f} ms", p99 < GOAL_P99_MS,
               f"{queries} random 15-minute ranges of {streams} streams x {per_stream} files "
               f"of {FILE_SECONDS} s; median {median(ours):.2f} ms; bulk load {took:.0f} s",
               ours),
        Figure(f"catalogue query p99, {name}, x the unbounded overlap query",
               base_p99 / p99 if p99 else None, "x", "", None,
               f"the same ranges without the look-back bound: p99 {base_p99:.2f} ms", base),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    streams, per_stream, queries = (4, 500, 100) if args.tiny else (200, 5000, 1000)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as name:
        tmp = Path(name)
        figures += measure("SQLite", f"sqlite:///{tmp / 'catalogue.db'}", streams,
                           per_stream, queries)
        with PostgresServer() as server:
            figures += measure("PostgreSQL", server.url, streams, per_stream, queries)
    emit(figures, args.json, "Recordings catalogue (query by stream and time range)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
