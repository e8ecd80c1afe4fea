"""The recorder against a real live stream: nginx-rtmp fed by ffmpeg looping a generated clip.

Every file is probed the way a player would read it. Several recorders share one stream where
a test compares policies, which keeps the suite fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher
from tests.waiting import wait_for

from .checks import assert_info_matches, assert_plays, assert_starts_at_zero, read_info
from .harness import AUDIO_FRAME, FRAME, GOP, Recorder, iter_pairs, job
from .probe import probe

pytestmark = pytest.mark.media

INTERVAL = 2.0


def next_file_under_way(recorder: Recorder) -> Callable[[], list[Path]]:
    """A condition: the recorder finished a file and writes the next one."""
    return lambda: recorder.temp_files() and recorder.finished_files()


@pytest.mark.timeout(90)
def test_interval_splits_in_both_formats_and_both_timestamp_rules(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publish(stream_name)
    url = media_server.rtmp_url("app", stream_name)
    recorders = {}
    for ext in ("ts", "mp4"):
        for rule in ("discontinuity", "continuity"):
            spec = job(stream_name, url, intervalMs=int(INTERVAL * 1000), segmentationRule=rule,
                       filePath=f"out/${{Stream}}_${{Sequence}}_${{StartTime:YYYYMMDDhhmmss}}.{ext}",
                       infoPath="out/${Stream}.xml")
            recorders[(ext, rule)] = Recorder(spec, tmp_path / f"{ext}-{rule}").start()
    for recorder in recorders.values():
        recorder.wait_files(3, timeout=30)
    for recorder in recorders.values():
        assert recorder.stop() == 0, recorder.log()

    for (ext, rule), recorder in recorders.items():
        files = recorder.finished_files()
        assert len(files) >= 4 and all(f.suffix == f".{ext}" for f in files), files
        assert not recorder.temp_files()
        probes = [assert_plays(f) for f in files]
        for p in probes[:-1]:
            # Split at the first keyframe once the file holds the interval: within one GOP.
            assert INTERVAL - FRAME <= p.video.duration <= INTERVAL + GOP + FRAME, (
                ext, rule, p.path, p.video.duration)
        if rule == "discontinuity":
            for p in probes:
                assert_starts_at_zero(p)
        else:
            assert_starts_at_zero(probes[0])
            for a, b in iter_pairs(probes):
                # Back to back: the next file starts where the previous one ended.
                assert abs(b.video.start - a.video.end) <= FRAME, (a.path, b.path)
                assert abs(b.audio.start - a.audio.end) <= AUDIO_FRAME, (a.path, b.path)
        entries = assert_info_matches(recorder.storage / "out" / f"{stream_name}.xml",
                                      recorder.storage, files)
        assert [e["lastSequence"] for e in entries] == ["false"] * (len(files) - 1) + ["true"]
        assert {e["transactionId"] for e in entries} == {recorder.spec["transactionId"]}
        for entry, p in zip(entries, probes, strict=True):
            assert abs(int(entry["recordTime"]) / 1000 - p.duration) <= 2 * FRAME + AUDIO_FRAME


@pytest.mark.timeout(60)
def test_schedule_splits_at_the_first_keyframe_after_each_fire_time(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publish(stream_name)
    spec = job(stream_name, media_server.rtmp_url("app", stream_name), schedule="*/3 * *")
    with Recorder(spec, tmp_path / "rec") as recorder:
        recorder.wait_files(3, timeout=30)
        assert recorder.stop() == 0
    files = recorder.finished_files()
    entries = read_info(recorder.info_files()[0])
    for entry in entries[1:]:
        start = datetime.fromisoformat(entry["startTime"])
        after_fire = start.second % 3 + start.microsecond / 1e6
        assert after_fire <= GOP + 0.3, (entry["startTime"], "not within one GOP of a fire time")
    for path in files[1:-1]:
        assert 3 - GOP - FRAME <= assert_plays(path).video.duration <= 3 + GOP + FRAME


@pytest.mark.timeout(60)
def test_reservation_waits_for_the_stream_and_starts_on_its_first_keyframe(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    spec = job(stream_name, media_server.rtmp_url("app", stream_name))
    with Recorder(spec, tmp_path / "rec") as recorder:
        wait_for(lambda: "waiting for the stream" in recorder.log(), 15, "the recorder to wait")
        time.sleep(1.5)  # several retries, and still nothing written
        assert recorder.alive() and not list(recorder.storage.iterdir())
        published = time.monotonic()
        publish(stream_name, wait=False)
        recorder.wait_temp(timeout=15)
        started = time.monotonic()
        assert started - published <= 5, "recording began too long after the publish"
        time.sleep(2)
        assert recorder.stop() == 0
    (path,) = recorder.finished_files()
    result = assert_plays(path)
    assert result.video.first_dts == pytest.approx(0, abs=1e-6)
    assert result.duration >= 2 - GOP


@pytest.mark.timeout(60)
def test_stream_drop_finishes_the_file_and_the_return_resumes_the_sequence(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publisher = publish(stream_name)
    spec = job(stream_name, media_server.rtmp_url("app", stream_name),
               filePath="${Id}_${Sequence}.mp4")
    with Recorder(spec, tmp_path / "rec") as recorder:
        recorder.wait_temp(timeout=15)
        time.sleep(2)
        publisher.stop()
        recorder.wait_files(1, timeout=15)
        time.sleep(1)
        assert recorder.alive(), "a dropped stream is waited for"
        assert not recorder.temp_files()
        publisher.start()
        recorder.wait_temp(timeout=15)
        time.sleep(2)
        assert recorder.stop() == 0
    files = recorder.finished_files()
    assert [f.name for f in files] == [f"id-{stream_name}_0.mp4", f"id-{stream_name}_1.mp4"]
    for path in files:
        assert_plays(path)
        assert_starts_at_zero(assert_plays(path))
    entries = assert_info_matches(recorder.info_files()[0], recorder.storage, files)
    assert [(e["sequence"], e["lastSequence"]) for e in entries] == [("0", "false"), ("1", "true")]
    assert entries[0]["transactionId"] == entries[1]["transactionId"]
    assert "stream dropped" in recorder.log()


@pytest.mark.timeout(60)
def test_sigkill_mid_file_loses_at_most_one_gop_and_the_file_plays(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publish(stream_name)
    url = media_server.rtmp_url("app", stream_name)
    specs = {ext: job(stream_name, url, filePath=f"${{Stream}}_${{Sequence}}.{ext}")
             for ext in ("ts", "mp4")}
    recorders = {ext: Recorder(spec, tmp_path / ext).start() for ext, spec in specs.items()}
    temps = {ext: r.wait_temp(timeout=15) for ext, r in recorders.items()}
    began = time.monotonic()
    time.sleep(3.3)
    for recorder in recorders.values():
        recorder.kill()
    elapsed = time.monotonic() - began
    for ext, temp in temps.items():
        result = assert_plays(temp)
        assert result.duration >= elapsed - GOP, (ext, result.duration, elapsed)

    # A new run (no status to read) finishes the orphan under its final name and goes on with
    # the next sequence instead of overwriting it.
    again = {ext: Recorder(specs[ext], recorders[ext].storage).start() for ext in specs}
    for recorder in again.values():
        wait_for(next_file_under_way(recorder), 20, "the next file")
    for ext, recorder in again.items():
        assert recorder.stop() == 0
        names = [f.name for f in recorder.finished_files()]
        assert names == [f"{stream_name}_0.{ext}", f"{stream_name}_1.{ext}"]
        entries = read_info(recorder.info_files()[0])
        assert [(e["sequence"], e["lastSequence"]) for e in entries] == [
            ("0", "false"), ("1", "true")]


@pytest.mark.timeout(60)
def test_hls_source_into_mp4_and_ts(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publish(stream_name)
    media_server.wait_hls("app", stream_name, segments=2)
    url = media_server.hls_url("app", stream_name)
    recorders = [
        Recorder(job(stream_name, url, intervalMs=2000, filePath=f"${{Sequence}}.{ext}"),
                 tmp_path / ext).start()
        for ext in ("mp4", "ts")
    ]
    for recorder in recorders:
        recorder.wait_files(2, timeout=30)
    for recorder in recorders:
        assert recorder.stop() == 0, recorder.log()
        for path in recorder.finished_files():
            result = assert_plays(path)
            assert_starts_at_zero(result)
            assert result.audio.codec == "aac"


@pytest.mark.timeout(60)
def test_audio_only_source_starts_at_the_first_audio_packet(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str, audio_clip: Path,
) -> None:
    publish(stream_name, audio_clip)
    spec = job(stream_name, media_server.rtmp_url("app", stream_name), intervalMs=2000,
               filePath="${Sequence}.mp4")
    with Recorder(spec, tmp_path / "rec") as recorder:
        recorder.wait_files(2, timeout=20)
        assert recorder.stop() == 0
    files = recorder.finished_files()
    for path in files[:-1]:
        result = assert_plays(path, kinds=("audio",))
        assert_starts_at_zero(result)
        assert 2 - AUDIO_FRAME <= result.duration <= 2 + 2 * AUDIO_FRAME


@pytest.mark.timeout(60)
def test_track_selection_by_kind_and_a_missing_track(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publish(stream_name)
    url = media_server.rtmp_url("app", stream_name)
    only_video = Recorder(job(stream_name, url, tracks=[{"media": "video"}],
                              filePath="v.ts"), tmp_path / "video").start()
    nothing = Recorder(job(stream_name, url, tracks=[{"trackId": 7}]), tmp_path / "none").start()
    assert nothing.wait(20) == 1
    assert "the source has no track to record (trackId 7 wanted" in nothing.log()
    only_video.wait_temp(timeout=15)
    time.sleep(1)
    assert only_video.stop() == 0
    (path,) = only_video.finished_files()
    assert_plays(path, kinds=("video",))


def _limit_file_size() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))


@pytest.mark.timeout(60)
def test_storage_that_cannot_take_more_is_an_error_with_the_reason(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publish(stream_name)
    spec = job(stream_name, media_server.rtmp_url("app", stream_name))
    recorder = Recorder(spec, tmp_path / "rec", preexec=_limit_file_size).start()
    assert recorder.wait(30) == 1, recorder.log()
    assert "the file is larger than the storage allows" in recorder.log()
    (temp,) = recorder.temp_files()
    # What was written before the failure still plays; only the packet cut off by the full
    # storage is incomplete.
    result = probe(temp)
    assert result.video.first_is_key and result.video.frames >= 25
    assert len(result.errors) <= 1, result.errors


@pytest.mark.timeout(60)
def test_srt_source_through_the_ffmpeg_relay(
    tmp_path: Path, clip: Path, publishers: list[Publisher],
) -> None:
    from recording_operator.ports import free_port

    port = free_port()
    publisher = Publisher.clip(clip, f"srt://127.0.0.1:{port}?mode=listener")
    publishers.append(publisher.start())
    spec = job("srt", f"srt://127.0.0.1:{port}", intervalMs=2000, filePath="${Sequence}.mp4")
    with Recorder(spec, tmp_path / "rec") as recorder:
        recorder.wait_files(2, timeout=30)
        assert recorder.stop() == 0
    for path in recorder.finished_files():
        result = assert_plays(path)
        assert_starts_at_zero(result)


@pytest.mark.timeout(30)
def test_sigterm_while_waiting_for_the_stream_exits_at_once(
    tmp_path: Path, media_server: MediaServer, stream_name: str,
) -> None:
    spec = job(stream_name, media_server.rtmp_url("app", stream_name))
    with Recorder(spec, tmp_path / "rec") as recorder:
        wait_for(lambda: "it is not published" in recorder.log(), 15, "the recorder to wait")
        asked = time.monotonic()
        assert recorder.stop() == 0
        assert time.monotonic() - asked < 2
    assert not list(recorder.storage.iterdir())
