"""OvenMediaEngine's paths: ``/path/to/file_${Sequence}.ts`` means the storage root's
``path/to/...``; files, the info file and its entries land there, named relative to the root."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from recording_operator.local.mediaserver import MediaServer
from recording_operator.local.publisher import Publisher

from .checks import assert_info_matches, assert_plays
from .harness import Recorder, job


@pytest.mark.timeout(60)
def test_a_leading_slash_records_under_the_storage_root(
    tmp_path: Path, media_server: MediaServer, publish: Callable[..., Publisher],
    stream_name: str,
) -> None:
    publish(stream_name)
    spec = job(stream_name, media_server.rtmp_url("app", stream_name), intervalMs=2000,
               filePath="/path/to/save/recorded/file_${Sequence}.ts",
               infoPath="/path/to/info.xml")
    with Recorder(spec, tmp_path / "rec") as recorder:
        recorder.wait_files(2, timeout=30)
        assert recorder.stop() == 0, recorder.log()
    storage = recorder.storage
    files = recorder.finished_files()
    assert all(p.parent == storage / "path/to/save/recorded" for p in files), files
    entries = assert_info_matches(storage / "path/to/info.xml", storage, files)
    assert entries[0]["filePath"] == "path/to/save/recorded/file_0.ts"
    for path in files[:-1]:
        assert_plays(path)
