"""Twenty tasks on one stream with the same literal paths (``a.ts``, ``info.xml``) in one
directory, stopped at the same moment: every file and every info entry survives, and a symlink
planted at a task's temporary name does not redirect its write."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher
from tests.waiting import wait_for

from .checks import assert_plays, read_info
from .harness import Recorder, job

TASKS = 20


@pytest.mark.timeout(240)
def test_twenty_tasks_with_the_same_literal_paths_lose_nothing(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publish(stream_name)
    storage = tmp_path / "shared"
    url = media_server.rtmp_url("app", stream_name)
    recorders = []
    for n in range(TASKS):
        spec = job(stream_name, url, filePath="a.ts", infoPath="info.xml",
                   transactionId=f"T{n:02d}{stream_name.upper():0<13}"[:16], id=f"task-{n}")
        recorder = Recorder(spec, storage)
        recorder.spec_file = tmp_path / f"task{n}.spec.json"
        recorder.log_file = tmp_path / f"task{n}.log"
        recorders.append(recorder)
    # a symlink planted at the first task's temporary name must not be written through
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    os.symlink(victim, storage / f"{recorders[0].spec['transactionId']}_0.recording.ts")
    try:
        for recorder in recorders:
            recorder.start()
        wait_for(lambda: all("file 0 started" in r.log() for r in recorders), 150,
                 "every task to write", lambda: "\n".join(r.log()[-300:] for r in recorders))
        for recorder in recorders:  # all at once: twenty finalisations race
            assert recorder.process is not None
            recorder.process.send_signal(signal.SIGTERM)
        for recorder in recorders:
            assert recorder.wait(60) == 0, recorder.log()
    finally:
        for recorder in recorders:
            recorder.__exit__()
    assert victim.read_bytes() == b"precious"
    files = sorted(p.name for p in storage.iterdir() if p.suffix == ".ts" and not p.is_symlink())
    assert files == sorted(["a.ts", *(f"a_{n}.ts" for n in range(1, TASKS))])
    entries = read_info(storage / "info.xml")
    assert sorted(e["filePath"] for e in entries) == files, "one entry per file"
    assert sorted(e["id"] for e in entries) == sorted(f"task-{n}" for n in range(TASKS))
    for entry in entries:
        assert int(entry["recordBytes"]) == (storage / entry["filePath"]).stat().st_size
        assert entry["lastSequence"] == "true"
    for name in files:
        assert_plays(storage / name)
