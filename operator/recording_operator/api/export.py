"""The recordings' media: ``.../recordings:export`` (one file for a range) and
``.../recordings/{file}`` (one recorded file, with HTTP Range).

Both read through the catalogue: a file is served from its local copy when there is one, else
from the bucket it was uploaded to (the app's ``upload`` store, credentials from the standard
AWS variables of the API process). The remux itself lives in ``recording_operator.export``, the
only place besides the recorder that touches PyAV.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..catalogue import CatalogueFile, files_in_range
from ..export.objects import ObjectStore, RangedObject, StoreError, content_type, split_url
from ..export.remux import FORMATS, remux
from ..export.segments import Segment, gaps
from ..export.stream import Pipe, byte_stream
from ..model.config import AppConfig
from ..model.delivery import UploadConfig
from ..model.timefmt import format_time
from .catalogue_events import catalogue_of
from .errors import ApiError
from .recordings import PATH, parse_rfc3339
from .settings import ApiSettings
from .validation import app_config

log = logging.getLogger(__name__)

MEDIA_TYPES = {"mp4": "video/mp4", "ts": "video/mp2t"}
#: Longest range one export may cover (a day).
MAX_RANGE_SECONDS = 24 * 3600
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def app_root(settings: ApiSettings, app_cfg: AppConfig) -> Path | None:
    """Where the app's files are on this machine (as the delivery finds them), if anywhere."""
    host_path = app_cfg.storage.volume.get("hostPath", {}).get("path")
    if host_path:
        return Path(host_path)
    if settings.storage_root is None:
        return None
    return settings.storage_root / (app_cfg.storage.sub_path or "")


def local_path(root: Path | None, file: CatalogueFile) -> Path | None:
    """The local copy, if it exists and its path stays under the root."""
    if root is None or not file.local:
        return None
    path = (root / file.file_path).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    return path


def store_for(app_cfg: AppConfig, url: str) -> ObjectStore:
    """A client for the bucket of ``url`` on the app's store."""
    bucket, _ = split_url(url)
    upload = app_cfg.upload
    if upload is None:
        raise ApiError(404, "The file is no longer on the volume and the app has no store")
    return ObjectStore(UploadConfig(url=f"s3://{bucket}", endpoint=upload.endpoint,
                                    region=upload.region))


def build_export_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter()
    security: dict[str, Any] = {"security": [{"basicAuth": []}]}

    @router.get(f"{PATH}:export", summary="Export a time range as one file",
                operation_id="VHostAppStreamRecordingsExportGet",
                response_class=StreamingResponse, openapi_extra=security)
    async def export(vhost: str, app: str, stream: str, request: Request) -> Response:
        stream_name = stream
        app_cfg = app_config(settings.config, vhost, app)
        start = parse_rfc3339("start", request.query_params.get("start"))
        end = parse_rfc3339("end", request.query_params.get("end"))
        fmt = request.query_params.get("format", "mp4")
        if fmt not in FORMATS:
            raise ApiError(400, f"Invalid request: format must be one of {', '.join(FORMATS)}")
        if end <= start:
            raise ApiError(400, "Invalid request: end must be after start")
        if (end - start).total_seconds() > MAX_RANGE_SECONDS:
            raise ApiError(400, "Invalid request: a range is at most 24 hours")
        files = await run_in_threadpool(files_in_range, catalogue_of(request), vhost, app,
                                        stream_name, start, end)
        if not files:
            raise ApiError(404, f"No recording of {vhost}/{app}/{stream_name} in that range")
        root = app_root(settings, app_cfg)
        segments = [Segment(f.start_time, f.finish_time, local_path(root, f), f.url)
                    for f in files]
        missing = [f.file_path for f, s in zip(files, segments, strict=True)
                   if s.path is None and s.url is None]
        if missing:
            raise ApiError(404, f"Files no longer anywhere: {', '.join(missing)}")
        holes = gaps(segments, start, end)
        if holes:
            log.info("export of %s/%s/%s from %s to %s skips %d gap(s)", vhost, app,
                     stream_name, format_time(start), format_time(end), len(holes))
        name = f"{stream_name}_{start.astimezone(UTC):%Y%m%dT%H%M%SZ}.{fmt}"
        headers = {
            "Content-Disposition": f'inline; filename="{name}"',
            # continuous timestamps across gaps: the gaps go here, by wall-clock time
            "Recording-Gaps": ",".join(f"{format_time(g.start)}/{format_time(g.end)}"
                                       for g in holes),
            "Cache-Control": "no-store",
        }
        return StreamingResponse(_exported(app_cfg, segments, start, end, fmt),
                                 media_type=MEDIA_TYPES[fmt], headers=headers)

    @router.get(f"{PATH}/{{file}}", summary="Download one recorded file (HTTP Range)",
                operation_id="VHostAppStreamRecordingFileGet", openapi_extra=security)
    async def one_file(vhost: str, app: str, stream: str, file: str,
                       request: Request) -> Response:
        stream_name = stream
        app_cfg = app_config(settings.config, vhost, app)
        if not file.isdigit():
            raise ApiError(400, f"Invalid request: a file is named by its id, not {file!r}")
        found = await run_in_threadpool(catalogue_of(request).file_by_id, vhost, app,
                                        stream_name, int(file))
        if found is None:
            raise ApiError(404, f"No file {file} of {vhost}/{app}/{stream_name}")
        path = local_path(app_root(settings, app_cfg), found)
        if path is not None:
            return FileResponse(path, media_type=content_type(found.file_path),
                                filename=Path(found.file_path).name)
        if found.url is None:
            raise ApiError(404, f"File {file} is no longer anywhere")
        return await _from_store(app_cfg, found, request.headers.get("range"))

    return router


async def _exported(app_cfg: AppConfig, segments: list[Segment], start: datetime,
                    end: datetime, fmt: str) -> AsyncIterator[bytes]:
    """The remux's bytes as it makes them; objects read through one store client."""
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        stores: dict[str, ObjectStore] = {}
        for segment in segments:
            if segment.path is None and segment.url is not None:
                bucket, _ = split_url(segment.url)
                if bucket not in stores:
                    stores[bucket] = await stack.enter_async_context(
                        store_for(app_cfg, segment.url))

        def opener(segment: Segment) -> Any:
            if segment.path is not None:
                return str(segment.path)
            assert segment.url is not None
            bucket, key = split_url(segment.url)
            return RangedObject(stores[bucket], key, loop)

        def produce(pipe: Pipe) -> None:
            summary = remux(segments, start, end, pipe, fmt, opener)
            log.info("exported %d packets from %d files, %.1f s", summary.packets,
                     summary.segments, summary.seconds)

        async for chunk in byte_stream(produce):
            yield chunk


async def _from_store(app_cfg: AppConfig, found: CatalogueFile, header: str | None) -> Response:
    """An uploaded file, whole or the one byte range asked for, streamed from the bucket."""
    assert found.url is not None
    _, key = split_url(found.url)
    store = store_for(app_cfg, found.url)
    try:
        async with store:
            size = await store.object_size(key)
    except StoreError as exc:
        raise ApiError(502, f"The store did not answer for the file: {exc}") from None
    first, last = 0, size - 1
    status = 200
    if header:
        match = _RANGE.match(header.strip())
        if match is None or not any(match.groups()):
            raise ApiError(416, f"Range not understood (one bytes=a-b range): {header!r}")
        a, b = match.groups()
        if a:
            first, last = int(a), min(int(b), size - 1) if b else size - 1
        else:
            first = max(0, size - int(b))
        if first > last or first >= size:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        status = 206

    async def body() -> AsyncIterator[bytes]:
        async with store_for(app_cfg, str(found.url)) as reader:
            at = first
            while at <= last:
                length = min(1024 * 1024, last - at + 1)
                yield await reader.read_range(key, at, length)
                at += length

    headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1),
               "Content-Disposition": f'inline; filename="{Path(found.file_path).name}"'}
    if status == 206:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(body(), status_code=status, headers=headers,
                             media_type=content_type(found.file_path))
