"""A task stopped after its stream ended: its last file says it was the last."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from recording_operator.model.recorder_status import FileRecord
from recording_operator.recorder import infofile
from recording_operator.recorder.ending import mark_last_file
from recording_operator.recorder.infofile import InfoEntry
from recording_operator.recorder.paths import StorageRoot
from recording_operator.recorder.progress import Progress

T = "2026-01-01T00:00:00.000+00:00"


def _entry(tx: str, sequence: int, last: bool) -> InfoEntry:
    return InfoEntry(transaction_id=tx, id="r", metadata="", vhost="default", app="app",
                     stream="s", file_path=f"s/{tx}-{sequence}.ts", record_bytes=10,
                     record_time=1000, sequence=sequence, last_sequence=last,
                     created_time=T, start_time=T, finish_time=T)


def _record(entry: InfoEntry) -> FileRecord:
    return FileRecord(sequence=entry.sequence, file_path=entry.file_path, record_bytes=10,
                      record_time=1000, start_time=T, finish_time=T,
                      last_sequence=entry.last_sequence)


def test_the_file_a_drop_finished_becomes_the_last(tmp_path: Path) -> None:
    info = tmp_path / "s" / "info.xml"
    info.parent.mkdir()
    earlier = _entry("OTHERTRANSACTION", 0, False)  # another task's file: left alone
    files = [_entry("TX", 0, False), _entry("TX", 1, False)]
    for item in (earlier, *files):
        infofile.append(info, item)
    progress = Progress(UTC, files=[_record(f) for f in files])
    progress.output_info_path = "s/info.xml"

    mark_last_file(StorageRoot(str(tmp_path)), progress, "TX")

    assert [(e.transaction_id, e.sequence, e.last_sequence) for e in infofile.read(info)] == [
        ("OTHERTRANSACTION", 0, False), ("TX", 0, False), ("TX", 1, True)]
    assert [f.last_sequence for f in progress.files] == [False, True]


def test_nothing_to_mark(tmp_path: Path) -> None:
    root = StorageRoot(str(tmp_path))
    mark_last_file(root, Progress(UTC), "TX")  # no file finished: nothing happens
    info = tmp_path / "info.xml"
    done = _entry("TX", 0, True)
    infofile.append(info, done)
    progress = Progress(UTC, files=[_record(done)])
    progress.output_info_path = "info.xml"
    before = info.read_bytes()
    mark_last_file(root, progress, "TX")
    assert info.read_bytes() == before
