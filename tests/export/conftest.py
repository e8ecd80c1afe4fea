"""A real recording to export: the real recorder on nginx-rtmp, 4 s splits, ~22 s long. The
real S3 store for the files that moved to the bucket is the session's ``s3`` (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from recording_operator.export.segments import Segment
from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher
from recording_operator.model.timefmt import parse_time
from recording_operator.recorder.infofile import parse
from tests.recorder.conftest import clip, media_server  # noqa: F401 - fixtures
from tests.recorder.harness import Recorder, job

INTERVAL_MS = 4000
FILES = 5


@dataclass(frozen=True)
class Recording:
    storage: Path
    segments: list[Segment]
    stream: str
    #: The info XML's entries, as the delivery's file events carry them.
    events: list[dict[str, Any]]


def segments_of(storage: Path, info: Path) -> list[Segment]:
    entries = parse(info.read_text())
    return [Segment(parse_time(e.start_time), parse_time(e.finish_time), storage / e.file_path)
            for e in sorted(entries, key=lambda e: e.sequence)]


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory, media_server: MediaServer,  # noqa: F811
              clip: Path) -> Iterator[Recording]:  # noqa: F811
    """Five or more finished files of one recording (the recorder stopped)."""
    stream = "exported"
    publisher = Publisher.clip(clip, media_server.rtmp_url("app", stream))
    publisher.start()
    try:
        media_server.wait_live("app", stream)
        storage = tmp_path_factory.mktemp("export") / "storage"
        spec = job(stream, media_server.rtmp_url("app", stream), intervalMs=INTERVAL_MS,
                   filePath="${Stream}/${Sequence}.ts", infoPath="${Stream}/info.xml")
        with Recorder(spec, storage) as recorder:
            recorder.wait_files(FILES, timeout=60)
            assert recorder.stop() == 0, recorder.log()
    finally:
        publisher.stop()
    info = storage / stream / "info.xml"
    yield Recording(storage, segments_of(storage, info), stream, event_data(storage, info))


def event_data(storage: Path, info: Path) -> list[dict[str, Any]]:
    return [{"transactionId": e.transaction_id, "id": e.id, "metadata": e.metadata,
             "vhost": e.vhost, "app": e.app, "stream": e.stream, "filePath": e.file_path,
             "recordBytes": e.record_bytes, "recordTime": e.record_time,
             "sequence": e.sequence, "lastSequence": e.last_sequence,
             "createdTime": e.created_time, "startTime": e.start_time,
             "finishTime": e.finish_time, "size": (storage / e.file_path).stat().st_size}
            for e in sorted(parse(info.read_text()), key=lambda e: e.sequence)]

