"""End to end through the embedded stack: REST call → Recording → operator → pod → recorder →
files → status → REST answer. Only the API, RTMP publishes and the file system are used, except
where a scenario needs a crash (a recorder or the operator killed)."""

from __future__ import annotations

import itertools
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from recording_operator.local.publisher import Publisher
from recording_operator.local.stack import EmbeddedStack
from tests.recorder.checks import assert_plays, read_info
from tests.waiting import wait_for

from .conftest import Api
from .support import info_file, plays, recorder_pids, stop_and_wait_gone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
STAMP = r"\d{14}"


def finished_files(root: Path, stream: str, suffix: str = ".ts") -> list[Path]:
    """Finished files of a stream, named as OME names them, oldest first."""
    name = rf"^[A-Za-z0-9]{{16}}_default_app_{stream}_{STAMP}_{STAMP}{re.escape(suffix)}$"
    pattern = re.compile(name)
    return sorted((p for p in root.iterdir() if pattern.match(p.name)),
                  key=lambda p: p.name.rsplit("_", 2)[-2:])


def in_state(api: Api, record_id: str, state: str) -> Callable[[], dict | None]:  # type: ignore[type-arg]
    def check() -> dict | None:  # type: ignore[type-arg]
        task = api.task(record_id)
        return task if task is not None and task["state"] == state else None
    return check


def test_interval_recording_from_start_to_stop(
    api: Api, stack: EmbeddedStack, stream: str, publish: Callable[[str], Publisher]
) -> None:
    publish(stream)
    rid = f"interval-{stream}"
    task = api.start(id=rid, stream={"name": stream}, interval=3000)
    assert task["state"] in ("ready", "recording")
    first = wait_for(lambda: (t := in_state(api, rid, "recording")()) and
                     t.get("totalRecordBytes", 0) > 0 and t, 30, "recording with bytes")
    wait_for(lambda: (api.task(rid) or {}).get("totalRecordBytes", 0) > first["totalRecordBytes"],
             10, "the bytes to grow")
    root = stack.recordings_dir
    wait_for(lambda: len(finished_files(root, stream)) >= 2, 30, "two finished files")
    wait_for(lambda: (api.task(rid) or {}).get("sequence", 0) >= 2, 10,
             "records to show the third file's sequence")

    stop_and_wait_gone(api, rid)
    files = finished_files(root, stream)
    entries = read_info(info_file(root, stream))
    assert [e["filePath"] for e in entries] == [f.name for f in files]
    assert [e["lastSequence"] for e in entries] == ["false"] * (len(files) - 1) + ["true"]
    assert [int(e["sequence"]) for e in entries] == list(range(len(files)))
    assert len({e["transactionId"] for e in entries}) == 1
    for path in files[:-1]:
        result = assert_plays(path)
        # split at the first keyframe (1 s GOP) once 3 s have passed
        assert 2.9 <= result.duration <= 4.1, (path, result.duration)
    plays(files[-1])
    assert not [p for p in root.iterdir() if stream in p.name and ".recording." in p.name]


def test_reservation_starts_recording_when_the_stream_is_published(
    api: Api, stack: EmbeddedStack, stream: str, publish: Callable[[str], Publisher]
) -> None:
    rid = f"reserved-{stream}"
    api.start(id=rid, stream={"name": stream})
    wait_for(in_state(api, rid, "ready"), 10, "the reservation to be ready")
    assert not list(stack.recordings_dir.glob(f"*_{stream}*"))
    publish(stream)
    wait_for(lambda: (t := in_state(api, rid, "recording")()) and t.get("recordBytes", 0) > 0,
             30, "recording to begin")
    stop_and_wait_gone(api, rid)
    [path] = finished_files(stack.recordings_dir, stream)
    plays(path)


def test_stream_drop_and_return_resumes_with_the_next_sequence(
    api: Api, stack: EmbeddedStack, stream: str, publish: Callable[[str], Publisher]
) -> None:
    publisher = publish(stream)
    rid = f"drop-{stream}"
    api.start(id=rid, stream={"name": stream})
    wait_for(lambda: (t := in_state(api, rid, "recording")()) and t.get("recordTime", 0) > 1000,
             30, "a second of recording")
    publisher.stop()
    stopped = wait_for(in_state(api, rid, "stopped"), 30, "the task to be stopped")
    assert "finishTime" in stopped
    [first] = wait_for(lambda: finished_files(stack.recordings_dir, stream), 10, "the first file")

    publish(stream)
    resumed = wait_for(lambda: (t := in_state(api, rid, "recording")()) and
                       t.get("sequence") == 1 and t, 30, "recording to resume as sequence 1")
    assert resumed["createdTime"] == stopped["createdTime"]
    stop_and_wait_gone(api, rid)
    files = finished_files(stack.recordings_dir, stream)
    assert len(files) == 2 and files[0] == first
    entries = read_info(info_file(stack.recordings_dir, stream))
    assert [(e["sequence"], e["lastSequence"]) for e in entries] == [("0", "false"), ("1", "true")]
    assert entries[0]["transactionId"] == entries[1]["transactionId"]
    assert all(f.name.startswith(entries[0]["transactionId"]) for f in files)
    for path in files:
        plays(path)


def test_a_killed_recorder_is_replaced_and_continues_the_sequence(
    api: Api, stack: EmbeddedStack, stream: str, publish: Callable[[str], Publisher]
) -> None:
    publish(stream)
    rid = f"killed-{stream}"
    api.start(id=rid, stream={"name": stream}, interval=2000)
    # A file renamed to its final name, listed in the info XML or not yet: a kill between the
    # two must lose nothing either (the next recorder lists it).
    wait_for(lambda: len(finished_files(stack.recordings_dir, stream)) >= 1, 30,
             "a finished file")
    [victim] = wait_for(lambda: recorder_pids(stack, rid), 10, "the recorder process")
    before = api.task(rid)
    assert before is not None
    os.kill(victim, signal.SIGKILL)
    replacement = wait_for(lambda: [p for p in recorder_pids(stack, rid) if p != victim], 60,
                           "a replacement recorder")
    assert len(replacement) == 1
    after = wait_for(lambda: (t := in_state(api, rid, "recording")()) and
                     t.get("sequence", 0) > before.get("sequence", 0) and t, 30,
                     "recording to continue with a later sequence")
    assert after["totalRecordBytes"] >= before.get("totalRecordBytes", 0)
    stop_and_wait_gone(api, rid)
    files = finished_files(stack.recordings_dir, stream)
    entries = read_info(info_file(stack.recordings_dir, stream))
    sequences = [int(e["sequence"]) for e in entries]
    assert sequences == sorted(set(sequences)), "sequences never repeat"
    assert sorted(Path(e["filePath"]).name for e in entries) == sorted(f.name for f in files), \
        "every finished file is listed in the info XML, once"
    assert not list(stack.recordings_dir.glob(f"*{stream}*.recording.ts")), "an orphan was left"
    for path in files:
        plays(path)


def test_operator_restart_keeps_one_recorder_and_the_task(
    api: Api, stack: EmbeddedStack, stream: str, publish: Callable[[str], Publisher]
) -> None:
    publish(stream)
    rid = f"oprestart-{stream}"
    api.start(id=rid, stream={"name": stream}, interval=2000)
    before = wait_for(in_state(api, rid, "recording"), 30, "recording")
    [recorder] = recorder_pids(stack, rid)
    stack.restart_operator(kill=True)
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:  # the new operator has had time to resume
        assert recorder_pids(stack, rid) == [recorder], "the recorder was replaced or doubled"
        time.sleep(0.5)
    after = api.task(rid)
    assert after is not None and after["state"] == "recording"
    assert after["createdTime"] == before["createdTime"]
    assert after["totalRecordBytes"] > before.get("totalRecordBytes", 0)
    stop_and_wait_gone(api, rid)  # the new operator handles the stop
    for path in finished_files(stack.recordings_dir, stream):
        plays(path)


def test_two_recordings_of_one_stream_with_different_policies(
    api: Api, stack: EmbeddedStack, stream: str, publish: Callable[[str], Publisher]
) -> None:
    publish(stream)
    split, single = f"split-{stream}", f"single-{stream}"
    api.start(id=split, stream={"name": stream}, interval=2000)
    api.start(id=single, stream={"name": stream}, segmentationRule="continuity",
              filePath="${Id}/${Sequence}.mp4", infoPath="${Id}/info.xml")
    wait_for(lambda: len(finished_files(stack.recordings_dir, stream)) >= 2, 30, "two splits")
    wait_for(lambda: (api.task(single) or {}).get("recordTime", 0) >= 4500, 20,
             "4.5 s in the single file")
    stop_and_wait_gone(api, split)
    stop_and_wait_gone(api, single)
    for path in finished_files(stack.recordings_dir, stream):
        plays(path)
    single_dir = stack.recordings_dir / single
    # the info file's lock (.info.xml.lock) is hidden and stays beside it
    assert sorted(p.name for p in single_dir.iterdir() if not p.name.startswith(".")) == [
        "0.mp4", "info.xml"]
    result = assert_plays(single_dir / "0.mp4")
    assert result.duration >= 3.5
    [entry] = read_info(single_dir / "info.xml")
    assert entry["lastSequence"] == "true" and entry["id"] == single


def test_schedule_split_recording(
    api: Api, stack: EmbeddedStack, stream: str, publish: Callable[[str], Publisher]
) -> None:
    publish(stream)
    rid = f"sched-{stream}"
    api.start(id=rid, stream={"name": stream}, schedule="*/3 * *", segmentationRule="continuity")
    wait_for(lambda: len(finished_files(stack.recordings_dir, stream)) >= 3, 40, "three splits")
    stop_and_wait_gone(api, rid)
    files = finished_files(stack.recordings_dir, stream)
    entries = read_info(info_file(stack.recordings_dir, stream))
    for entry in entries[1:]:
        # each split starts at the first keyframe (1 s GOP) at or after a fire time: second % 3 == 0
        started = float(entry["startTime"][17:23])
        assert started % 3 < 1.1, entry["startTime"]
    for previous, current in itertools.pairwise(files):
        a, b = plays(previous), plays(current)
        # continuity: each file's timestamps go on where the previous one's ended
        assert abs(a.start + a.duration - b.start) < 0.1, (previous, current)
