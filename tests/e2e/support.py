"""Helpers shared by the end-to-end tests: a finished file plays, the stream's info XML, a task
stopped and gone, a task's recorder processes."""

from __future__ import annotations

from pathlib import Path

from recording_operator.local.stack import EmbeddedStack
from recording_operator.model.naming import recording_name
from tests.recorder.checks import assert_plays
from tests.recorder.probe import FileProbe, probe
from tests.waiting import wait_for

from .conftest import Api


def plays(path: Path) -> FileProbe:
    """The file plays from a keyframe. A file a crash or a stop ended within a second of its
    split keyframe may hold only its first video packets, since audio stamped after the
    keyframe had not arrived yet; anything longer must carry both tracks."""
    result = probe(path)
    audio = result.tracks.get("audio")
    if (audio is not None and audio.packets) or result.video.duration >= 1.0:
        return assert_plays(path)
    assert not result.errors, (path, result.errors)
    assert result.video.first_is_key and result.video.frames == result.video.packets, path
    return result


def info_file(root: Path, stream: str) -> Path:
    """The stream's one info XML under ``root``."""
    [info] = [p for p in root.iterdir() if p.name.endswith(f"_default_app_{stream}.xml")]
    return info


def stop_and_wait_gone(api: Api, record_id: str) -> dict:  # type: ignore[type-arg]
    """Stop the task and wait until the list no longer holds it; the stop's answer."""
    answer = api.stop(record_id)
    assert answer["state"] == "stopping"
    wait_for(lambda: api.task(record_id) is None, 40, f"{record_id} to leave the list")
    return answer


def recorder_pids(stack: EmbeddedStack, record_id: str) -> list[int]:
    """The recorder processes of a task: the pod runner's processes whose env names it."""
    assert stack.kubelet is not None
    marker = f"RECORDING_NAME={recording_name('default', 'app', record_id)}".encode()
    pids = []
    for pid in stack.kubelet.pids:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ:
            pids.append(pid)
    return pids
