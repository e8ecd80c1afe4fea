"""Export of a range spanning several files of a real recording: one continuous file of the
range's length (+- one GOP), both tracks, from local files and from the bucket."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from recording_operator.delivery.objectstore import Credentials, ObjectStore
from recording_operator.export.objects import RangedObject
from recording_operator.export.remux import remux
from recording_operator.export.segments import Segment
from recording_operator.local.s3server import S3Server
from recording_operator.model.delivery import UploadConfig
from tests.recorder.harness import FRAME, GOP

from .conftest import Recording
from .support import assert_continuous, middle_range

pytestmark = [pytest.mark.media, pytest.mark.timeout(120)]


@pytest.mark.parametrize("fmt", ["mp4", "ts"])
def test_a_range_over_several_local_files_is_one_continuous_file(
        recording: Recording, tmp_path: Path, fmt: str) -> None:
    start, end = middle_range(recording, 12)
    spanned = [s for s in recording.segments if s.finish > start and s.start < end]
    assert len(spanned) >= 3
    out = tmp_path / f"range.{fmt}"
    with open(out, "wb") as sink:
        summary = remux(recording.segments, start, end, sink, fmt, lambda s: str(s.path))
    assert summary.segments == len(spanned)
    assert summary.tracks == {"video", "audio"}
    # the keyframe at or before start: at most one GOP early
    assert summary.first_wall is not None
    assert start - timedelta(seconds=GOP + FRAME) <= summary.first_wall <= start
    assert_continuous(out, (end - summary.first_wall).total_seconds(),
                      recording.segments[0].path)


@pytest.mark.s3
def test_the_same_range_from_the_bucket_after_the_local_copies_went(
        recording: Recording, s3: S3Server, tmp_path: Path) -> None:
    start, end = middle_range(recording, 12)
    bucket = "exported"
    s3.create_bucket(bucket)
    config = UploadConfig(url=f"s3://{bucket}", endpoint=s3.endpoint, region=s3.region)
    credentials = Credentials(s3.access_key, s3.secret_key)
    out = tmp_path / "range.mp4"

    async def run() -> Any:
        async with ObjectStore(config, credentials) as store:
            moved: list[Segment] = []
            for segment in recording.segments:
                assert segment.path is not None
                key = f"moved/{segment.path.name}"
                copy = tmp_path / segment.path.name  # the fixture's files stay for other tests
                copy.write_bytes(segment.path.read_bytes())
                uploaded = await store.put_file(copy, key, {})
                copy.unlink()
                moved.append(Segment(segment.start, segment.finish, None, uploaded.url))
            loop = asyncio.get_running_loop()

            def opener(segment: Segment) -> RangedObject:
                assert segment.url is not None
                return RangedObject(store, segment.url.split("/", 3)[3], loop)

            def work() -> Any:
                with open(out, "wb") as sink:
                    return remux(moved, start, end, sink, "mp4", opener)

            return await asyncio.to_thread(work)

    summary = asyncio.run(run())
    assert summary.tracks == {"video", "audio"} and summary.segments >= 3
    assert summary.first_wall is not None
    assert_continuous(out, (end - summary.first_wall).total_seconds(),
                      recording.segments[0].path)
