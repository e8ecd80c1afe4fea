"""The export and single-file routes over HTTP (uvicorn, the real app, a SQLite catalogue fed
with the recording's file events): what a browser or curl downloads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recording_operator.api.app import create_app
from recording_operator.api.settings import ApiSettings
from recording_operator.catalogue import Catalogue
from recording_operator.local.s3server import S3Server
from recording_operator.model.config import parse_config
from recording_operator.model.timefmt import format_time
from tests.api.conftest import TOKEN, ServerThread, basic

from .conftest import Recording
from .support import assert_continuous, middle_range

pytestmark = [pytest.mark.media, pytest.mark.timeout(120)]


class _NoStore:
    async def close(self) -> None:
        return None


def serve(tmp_path: Path, storage: Path | None, upload: dict[str, Any] | None,
          files: list[dict[str, Any]], url: str | None = None) -> Iterator[httpx.Client]:
    app_cfg: dict[str, Any] = {"source": "rtmp://127.0.0.1/app/{stream}"}
    if upload:
        app_cfg["upload"] = upload
    config = parse_config({"vhosts": {"default": {"apps": {"app": app_cfg}}}})
    database = f"sqlite:///{tmp_path / 'catalogue.db'}"
    catalogue = Catalogue.open(database)
    for data in files:
        catalogue.record_file(data, local=url is None,
                              url=None if url is None else f"{url}/{data['filePath']}")
    catalogue.close()
    settings = ApiSettings(config=config, access_token=TOKEN, catalogue_url=database,
                           storage_root=storage)
    app = create_app(settings, store=_NoStore())  # type: ignore[arg-type]
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def base(recording: Recording) -> str:
    return f"/v1/vhosts/default/apps/app/streams/{recording.stream}/recordings"


def download(client: httpx.Client, recording: Recording, out: Path, fmt: str) -> httpx.Response:
    start, end = middle_range(recording, 12)
    with client.stream("GET", base(recording) + ":export", headers=basic(), params={
            "start": format_time(start), "end": format_time(end), "format": fmt}) as answer:
        if answer.status_code == 200:
            with open(out, "wb") as sink:
                for chunk in answer.iter_bytes():
                    sink.write(chunk)
        else:
            answer.read()
    return answer


@pytest.fixture
def local_api(tmp_path: Path, recording: Recording) -> Iterator[httpx.Client]:
    yield from serve(tmp_path, recording.storage, None, recording.events)


@pytest.mark.parametrize("fmt", ["mp4", "ts"])
def test_export_downloads_one_continuous_file(local_api: httpx.Client, recording: Recording,
                                              tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"export.{fmt}"
    answer = download(local_api, recording, out, fmt)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == {"mp4": "video/mp4", "ts": "video/mp2t"}[fmt]
    assert answer.headers["recording-gaps"] == ""
    start, end = middle_range(recording, 12)
    # from the keyframe at or before start: up to one GOP more than the range
    assert_continuous(out, (end - start).total_seconds() + 0.5, recording.segments[0].path)


def test_export_refuses_bad_input_with_a_clear_error(local_api: httpx.Client,
                                                     recording: Recording) -> None:
    path = base(recording) + ":export"
    start, end = middle_range(recording, 12)
    times = {"start": format_time(start), "end": format_time(end)}
    assert local_api.get(path, params=times).status_code == 401
    answer = local_api.get(path, headers=basic(), params={**times, "format": "avi"})
    assert answer.status_code == 400 and "format" in answer.json()["message"]
    answer = local_api.get(path, headers=basic(), params={"start": times["end"],
                                                          "end": times["start"]})
    assert answer.status_code == 400
    answer = local_api.get(path, headers=basic(), params={
        "start": "2020-01-01T00:00:00Z", "end": "2020-01-01T01:00:00Z"})
    assert answer.status_code == 404


def test_one_file_answers_byte_ranges(local_api: httpx.Client, recording: Recording) -> None:
    listing = local_api.get(base(recording), headers=basic(), params={
        "start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}).json()
    first = listing["response"]["files"][0]
    whole = (recording.storage / first["filePath"]).read_bytes()
    url = f"{base(recording)}/{first['id']}"
    answer = local_api.get(url, headers=basic())
    assert answer.status_code == 200 and answer.content == whole
    answer = local_api.get(url, headers={**basic(), "Range": "bytes=188-1127"})
    assert answer.status_code == 206 and answer.content == whole[188:1128]
    assert answer.headers["content-range"] == f"bytes 188-1127/{len(whole)}"
    assert local_api.get(f"{base(recording)}/999999", headers=basic()).status_code == 404


@pytest.mark.s3
def test_export_and_ranges_from_the_bucket_when_no_local_copy_is_left(
        tmp_path: Path, recording: Recording, s3: S3Server,
        monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = "from-api"
    s3.create_bucket(bucket)
    client = s3.client()
    for data in recording.events:
        client.put_object(Bucket=bucket, Key=data["filePath"],
                          Body=(recording.storage / data["filePath"]).read_bytes())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    upload = {"url": f"s3://{bucket}", "endpoint": s3.endpoint, "region": s3.region}
    # no storage root: nothing local can be found, every byte comes from the bucket
    for api in serve(tmp_path, None, upload, recording.events, url=f"s3://{bucket}"):
        out = tmp_path / "bucket.mp4"
        answer = download(api, recording, out, "mp4")
        assert answer.status_code == 200, answer.text
        start, end = middle_range(recording, 12)
        assert_continuous(out, (end - start).total_seconds() + 0.5, recording.segments[0].path)
        listing = api.get(base(recording), headers=basic(), params={
            "start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}).json()
        second = listing["response"]["files"][1]
        assert not second["local"]
        whole = (recording.storage / second["filePath"]).read_bytes()
        answer = api.get(f"{base(recording)}/{second['id']}",
                         headers={**basic(), "Range": "bytes=1000-"})
        assert answer.status_code == 206 and answer.content == whole[1000:]


def test_a_gap_is_closed_up_in_the_file_and_named_in_a_header(
        tmp_path: Path, recording: Recording) -> None:
    # the catalogue lacks the third file: the stream was down then, say
    missing = recording.segments[2]
    events = [e for e in recording.events if e["sequence"] != 2]
    for api in serve(tmp_path, recording.storage, None, events):
        out = tmp_path / "gap.mp4"
        answer = download(api, recording, out, "mp4")
        assert answer.status_code == 200, answer.text
        gap = answer.headers["recording-gaps"]
        # one gap, from the end of the file before the missing one
        assert gap.startswith(format_time(recording.segments[1].finish)), gap
        assert gap.count("/") == 1
        start, end = middle_range(recording, 12)
        held = (end - start - (missing.finish - missing.start)).total_seconds()
        # timestamps continuous across the gap: the file holds what was recorded
        assert_continuous(out, held + 0.5, recording.segments[0].path)
