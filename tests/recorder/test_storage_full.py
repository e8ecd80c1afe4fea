"""A full storage is a wait, not a failure: on a real tmpfs that fills up, the recorder keeps
its partial file, says why it waits, and records on once the filesystem has room again."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher
from tests.waiting import wait_for

from .checks import assert_plays, read_info
from .harness import Recorder, job

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a few seconds of the test clip fill it."""
    mountpoint = tmp_path / "rec"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mountpoint)],
                   check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


@pytest.mark.timeout(90)
def test_a_full_storage_waits_keeps_the_partial_file_and_resumes(
    small_volume: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publish(stream_name)
    spec = job(stream_name, media_server.rtmp_url("app", stream_name), intervalMs=2000,
               filePath="${Sequence}.ts", infoPath="info.xml")
    with Recorder(spec, small_volume) as recorder:
        wait_for(lambda: "the storage is full" in recorder.log(), 40,
                 "the storage to fill up", recorder.log)
        assert recorder.alive(), "a full storage must not end the recorder"
        assert "recording resumes when" in recorder.log()
        (partial,) = recorder.temp_files()
        kept = partial.stat().st_size
        assert kept > 0, "the partial file is kept"
        # room again: the same filesystem, grown
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_volume)], check=True)
        wait_for(lambda: "storage has room again" in recorder.log(), 10,
                 "the recorder to notice the room", recorder.log)
        before = len(recorder.finished_files())
        wait_for(lambda: len(recorder.finished_files()) >= before + 2, 30,
                 "recording to go on", recorder.log)
        assert recorder.stop() == 0, recorder.log()
    files = recorder.finished_files()
    entries = read_info(small_volume / "info.xml")
    assert sorted(e["filePath"] for e in entries) == sorted(p.name for p in files), \
        "every file, the cut-off one included, has its info entry"
    assert not recorder.temp_files()
    cut = [p for p in files if p.stat().st_size >= kept and p.name.split(".")[0]
           == partial.name.split("_")[-1].split(".")[0]]
    assert cut, f"the partial file {partial.name} was finished under its final name"
    for path in files[:-1]:
        if path not in cut:
            assert_plays(path)


def test_the_wait_is_reported_with_its_reason_and_cleared_when_room_returns(
    tmp_path: Path,
) -> None:
    import threading
    from datetime import UTC

    from recording_operator.model.resource import State
    from recording_operator.recorder.errors import StorageFull
    from recording_operator.recorder.progress import Progress
    from recording_operator.recorder.space import STORAGE_FULL, SpaceWait

    progress = Progress(UTC)
    seen: list[tuple[str | None, str | None]] = []
    progress.on_change = lambda: seen.append(
        (progress.snapshot()["recorder"]["reason"], progress.snapshot()["recorder"]["message"]))
    waiter = SpaceWait(tmp_path, threading.Event(), progress, poll=0.01)
    # tmp_path has room: the wait is reported, then ends at once
    assert waiter.until_free(StorageFull("cannot write x.ts: the storage is full"), State.STOPPED)
    assert seen[0][0] == STORAGE_FULL and seen[0][1] is not None
    assert seen[0][1].startswith("cannot write x.ts: the storage is full; the partial file is kept")
    assert seen[-1] == (None, "storage has room again: resuming")
    stopped = threading.Event()
    stopped.set()
    calls: list[int] = []

    def always_full() -> None:
        calls.append(1)
        raise StorageFull("full")

    with pytest.raises(StorageFull):
        SpaceWait(tmp_path, stopped, progress).retry(always_full, State.STOPPED)
    assert calls == [1], "a stopped recorder does not wait"
