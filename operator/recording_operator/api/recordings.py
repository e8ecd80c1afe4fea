"""``GET {prefix}/vhosts/{vhost}/apps/{app}/streams/{stream}/recordings?start=&end=``.

The files of one stream overlapping a time range, from the catalogue, in order, with the
stretches no file covers listed explicitly as ``gaps`` (a player or an export needs to know a
hole is a hole, not a missing page). Same token, envelope and 404s as OvenMediaEngine's routes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..catalogue import CatalogueFile, Gap, files_in_range, gaps_between
from ..model.timefmt import format_time
from . import openapi
from .catalogue_events import catalogue_of
from .errors import ApiError, ok_body
from .settings import ApiSettings
from .validation import app_config

PATH = "/vhosts/{vhost}/apps/{app}/streams/{stream}/recordings"

_TIME = {"type": "string", "format": "date-time"}
FILE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "recordId": {"type": "string"},
        "transactionId": {"type": "string"}, "sequence": {"type": "integer"},
        "lastSequence": {"type": "boolean"}, "filePath": {"type": "string"},
        "startTime": _TIME, "finishTime": _TIME, "recordTime": {"type": "integer"},
        "bytes": {"type": "integer"}, "local": {"type": "boolean"},
        "url": {"type": ["string", "null"]},
    },
}
GAP = {"type": "object", "properties": {"startTime": _TIME, "endTime": _TIME}}
RECORDINGS_OK = {
    "type": "object",
    "required": ["statusCode", "message", "response"],
    "properties": {**openapi.STATUS["properties"], "response": {
        "type": "object",
        "properties": {"files": {"type": "array", "items": FILE},
                       "gaps": {"type": "array", "items": GAP}},
    }},
}
_PARAMS = [
    {"name": name, "in": "query", "required": True, "schema": _TIME,
     "description": f"{what} of the range (RFC 3339, with an offset)"}
    for name, what in (("start", "Start"), ("end", "End (exclusive)"))
]


def parse_rfc3339(name: str, value: str | None) -> datetime:
    """An aware datetime, or a 400 that names the parameter."""
    if not value:
        raise ApiError(400, f"Invalid request: the query parameter {name} is required "
                            "(RFC 3339, e.g. 2026-01-01T14:05:00Z)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in value.upper():
        raise ApiError(400, f"Invalid request: {name} is not an RFC 3339 time with an "
                            f"offset: {value!r}")
    return moment


def file_view(f: CatalogueFile) -> dict[str, Any]:
    return {"id": f.id, "recordId": f.record_id, "transactionId": f.transaction_id,
            "sequence": f.sequence, "lastSequence": f.last_sequence, "filePath": f.file_path,
            "startTime": format_time(f.start_time), "finishTime": format_time(f.finish_time),
            "recordTime": f.record_time_ms, "bytes": f.bytes, "local": f.local, "url": f.url}


def gap_view(g: Gap) -> dict[str, str]:
    return {"startTime": format_time(g.start), "endTime": format_time(g.end)}


def build_recordings_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter()
    extra = openapi.operation(None, RECORDINGS_OK)
    extra["openapi_extra"]["parameters"] = _PARAMS

    @router.get(PATH, summary="List the recorded files of a stream in a time range",
                operation_id="VHostAppStreamRecordingsGet", response_class=JSONResponse,
                **extra)
    async def recordings(vhost: str, app: str, stream: str, request: Request) -> JSONResponse:
        app_config(settings.config, vhost, app)
        start = parse_rfc3339("start", request.query_params.get("start"))
        end = parse_rfc3339("end", request.query_params.get("end"))
        if end <= start:
            raise ApiError(400, "Invalid request: end must be after start")
        catalogue = catalogue_of(request)
        files = await run_in_threadpool(files_in_range, catalogue, vhost, app, stream,
                                        start, end)
        return JSONResponse(ok_body({"files": [file_view(f) for f in files],
                                     "gaps": [gap_view(g) for g in
                                              gaps_between(files, start, end)]}))

    return router
