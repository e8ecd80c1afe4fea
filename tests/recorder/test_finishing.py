"""A recorder killed while publishing a finished file loses nothing (recorder/finishing.py).

The kill between the rename and the info entry is made for real: the test holds the info XML's
lock (the same ``fcntl`` lock another recorder sharing the file would hold), so the real
recorder, on a real stream, renames its first file and then waits for the lock; the test kills
it there with SIGKILL. The other kill points are that same state one step earlier (the file put
back under its temporary name: a rename keeps the inode) or later (the note put back after its
publication completed).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from recording_operator.delivery.scan import InfoScanner
from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher
from recording_operator.model.resolved import ResolvedRecording
from recording_operator.recorder import infofile
from recording_operator.recorder.progress import Progress
from recording_operator.recorder.resume import plan_resume
from recording_operator.recorder.session import EXIT_STOPPED
from recording_operator.recorder.session import Recorder as Session
from tests.waiting import wait_for

from .checks import assert_plays, read_info
from .harness import Recorder, job

pytestmark = pytest.mark.media


@contextlib.contextmanager
def holding_lock(info: Path) -> Iterator[None]:
    """Holds the info XML's lock, as another writer of a shared info file would."""
    fd = os.open(info.with_name(f".{info.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def notes(storage: Path) -> list[Path]:
    return sorted(storage.glob(".*.finishing"))


def info_of(spec: dict[str, Any], storage: Path) -> Path:
    return storage / f"{spec['transactionId']}_{spec['stream']}.xml"


def kill_between_rename_and_listing(spec: dict[str, Any], storage: Path) -> Path:
    """Runs the real recorder until it has renamed its first file and waits to list it, and
    kills it there; returns that file."""
    recorder = Recorder(spec, storage)
    with holding_lock(info_of(spec, storage)), recorder:
        def renamed() -> Path | None:
            files = recorder.finished_files()
            return files[0] if files else None

        # Renamed while the lock is held: the recorder now waits to list it.
        final = wait_for(renamed, 30, "the first file renamed", recorder.log)
        recorder.kill()
    # What the kill left: a finished file under its final name that nothing lists, and the
    # note that announced it.
    tx = spec["transactionId"]
    assert final.name == f"{tx}_{spec['stream']}_0.ts"
    assert not info_of(spec, storage).exists()
    assert notes(storage) == [storage / f".{tx}_0.recording.ts.finishing"]
    assert not recorder.temp_files()
    # Nothing that follows info XMLs or media names takes the note for a recording.
    assert [e.file_path for f in InfoScanner(storage).changed() for e in f.entries] == []
    assert recorder.finished_files() == [final]
    return final


def resume(spec: dict[str, Any], storage: Path, status: dict[str, Any] | None) -> Progress:
    """A restarted recorder's start-up (as ``recorder.main.run`` wires it) that is stopped at
    once: it completes what the killed one left, and its status is returned."""
    recording = ResolvedRecording.from_env(json.dumps(spec))
    plan = plan_resume(status, recording.transaction_id,
                       infofile.read(info_of(spec, storage)))
    progress = Progress(ZoneInfo(recording.timezone), files=list(plan.files),
                        total_bytes=plan.total_bytes, total_time_ms=plan.total_time_ms,
                        sequence=plan.next_sequence - 1 if plan.next_sequence else None)
    stop = threading.Event()
    stop.set()
    session = Session(recording, progress, stop, resume=plan, storage_root=str(storage))
    assert session.run() == EXIT_STOPPED
    return progress


def listed(spec: dict[str, Any], storage: Path, final: Path) -> list[dict[str, Any]]:
    """The info entries of ``final`` (there must be exactly one), checked against the file."""
    entries = [e for e in read_info(info_of(spec, storage)) if e["filePath"] == final.name]
    assert len(entries) == 1, entries
    assert int(entries[0]["recordBytes"]) == final.stat().st_size
    assert entries[0]["sequence"] == "0"
    return entries


@pytest.fixture
def interrupted(tmp_path: Path, media_server: MediaServer,
                publish: Callable[..., Publisher],
                stream_name: str) -> tuple[dict[str, Any], Path, Path]:
    """A live stream's recorder killed between its first file's rename and its listing: the
    task's spec, its storage, and that file."""
    publish(stream_name)
    spec = job(stream_name, media_server.rtmp_url("app", stream_name), intervalMs=2000)
    storage = tmp_path / "rec"
    return spec, storage, kill_between_rename_and_listing(spec, storage)


@pytest.mark.timeout(90)
def test_a_file_renamed_but_not_listed_when_killed_is_listed_by_the_next_run(
    interrupted: tuple[dict[str, Any], Path, Path],
) -> None:
    spec, storage, final = interrupted

    with Recorder(spec, storage) as again:
        wait_for(lambda: len(again.finished_files()) >= 2, 30, "the next run's first file",
                 again.log)
        assert again.stop() == 0, again.log()
    listed(spec, storage, final)
    entries = read_info(info_of(spec, storage))
    assert [int(e["sequence"]) for e in entries] == list(range(len(entries))), \
        "the next run went on after the recovered file, without reusing its sequence"
    assert sorted(storage / e["filePath"] for e in entries) == sorted(again.finished_files())
    assert not notes(storage)
    assert_plays(final)


@pytest.mark.timeout(90)
def test_every_kill_point_of_a_publication_ends_with_the_file_listed_once_and_counted(
    interrupted: tuple[dict[str, Any], Path, Path],
) -> None:
    spec, storage, final = interrupted
    (note,) = notes(storage)
    written = note.read_bytes()
    size = final.stat().st_size

    # Killed between the rename and the listing: listed, reported, the note gone.
    status = resume(spec, storage, None).snapshot()
    (entry,) = listed(spec, storage, final)
    assert status["totalRecordBytes"] == size
    assert [f["filePath"] for f in status["files"]] == [final.name]
    assert not notes(storage)
    assert_plays(final)

    # Killed after the listing, before the note's removal: nothing listed or counted twice,
    # whether the status heard of the file or not.
    for heard in (status, None):
        note.write_bytes(written)
        again = resume(spec, storage, heard).snapshot()
        listed(spec, storage, final)
        assert again["totalRecordBytes"] == size, heard
        # (a status that never heard of it has no file list: the totals come from the info)
        assert [f["filePath"] for f in again["files"]] == ([final.name] if heard else []), heard
        assert not notes(storage)

    # Killed after the note, before the rename: the file is renamed and listed with the
    # figures the note kept (its end, not the time the temporary file was last written).
    note.write_bytes(written)
    final.rename(storage / f"{spec['transactionId']}_0.recording.ts")
    info_of(spec, storage).unlink()
    status = resume(spec, storage, None).snapshot()
    (again_entry,) = listed(spec, storage, final)
    assert again_entry["finishTime"] == entry["finishTime"]
    assert status["totalRecordBytes"] == size
    assert not notes(storage) and not list(storage.glob("*.recording.*"))
    assert_plays(final)
