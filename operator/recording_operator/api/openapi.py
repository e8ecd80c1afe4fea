"""The OpenAPI description of the three actions, as OME clients see them.

The routes read their bodies themselves (to answer in OME's words and order rather than with
FastAPI's 422), so the request and response schemas are declared here by hand. They follow
``ome-openapi.yml`` plus what we accept beyond it (``trackIds``, ``tracks``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_STRING = {"type": "string"}

STREAM = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _STRING,
        "variantNames": {"type": "array", "items": _STRING},
        "trackIds": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "tracks": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    },
}

START_RECORD = {
    "type": "object",
    "required": ["id", "stream"],
    "properties": {
        "id": _STRING,
        "stream": STREAM,
        "interval": {"type": "integer", "format": "int32"},
        "schedule": _STRING,
        "segmentationRule": {"type": "string", "enum": ["discontinuity", "continuity"]},
        "filePath": _STRING,
        "infoPath": _STRING,
        "metadata": _STRING,
    },
}

BY_ID = {"type": "object", "properties": {"id": _STRING}}

TASK = {
    "type": "object",
    "required": ["id", "state", "isConfig", "stream", "segmentationRule", "createdTime"],
    "properties": {
        "id": _STRING,
        "state": {
            "type": "string",
            "enum": ["ready", "recording", "stopping", "stopped", "error"],
        },
        "isConfig": {"type": "boolean"},
        "metadata": _STRING,
        "vhost": _STRING,
        "app": _STRING,
        "stream": {
            "type": "object",
            "required": ["name", "trackIds", "variantNames"],
            "properties": {
                "name": _STRING,
                "trackIds": {"type": "array", "items": {"type": "integer"}},
                "variantNames": {"type": "array", "items": _STRING},
            },
        },
        "filePath": _STRING,
        "infoPath": _STRING,
        "outputFilePath": _STRING,
        "outputInfoPath": _STRING,
        "interval": {"type": "integer"},
        "schedule": _STRING,
        "segmentationRule": {"type": "string", "enum": ["discontinuity", "continuity"]},
        "createdTime": {"type": "string", "format": "date-time"},
        "recordBytes": {"type": "integer", "format": "int64"},
        "recordTime": {"type": "integer", "format": "int64"},
        "totalRecordBytes": {"type": "integer", "format": "int64"},
        "totalRecordTime": {"type": "integer", "format": "int64"},
        "sequence": {"type": "integer"},
        "startTime": {"type": "string", "format": "date-time"},
        "finishTime": {"type": "string", "format": "date-time"},
    },
}

STATUS: dict[str, Any] = {
    "type": "object",
    "required": ["statusCode", "message"],
    "properties": {"statusCode": {"type": "integer"}, "message": _STRING},
}


def _envelope(response: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["statusCode", "message", "response"],
        "properties": {**STATUS["properties"], "response": response},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _json(STATUS, "Invalid request"),
    401: _json(STATUS, "Authentication required"),
    404: _json(STATUS, "Unknown vhost, app or id"),
    413: _json(STATUS, "Body over 64 KiB"),
    503: _json(STATUS, "The Kubernetes API failed"),
}


def operation(
    request: dict[str, Any] | None,
    ok: dict[str, Any],
    *,
    required: bool = False,
    conflict: bool = False,
) -> dict[str, Any]:
    """``openapi_extra`` and ``responses`` for one route."""
    extra: dict[str, Any] = {"security": [{"basicAuth": []}]}
    if request is not None:
        extra["requestBody"] = {
            "required": required,
            "content": {"application/json": {"schema": request}},
        }
    responses: dict[int | str, dict[str, Any]] = {200: _json(ok, "OK"), **_ERRORS}
    if conflict:
        responses[409] = _json(STATUS, "Duplicate ID")
    return {"openapi_extra": extra, "responses": responses}


def start_record_ok(legacy_array: bool) -> dict[str, Any]:
    return _envelope({"type": "array", "items": TASK} if legacy_array else TASK)


STOP_RECORD_OK = _envelope(TASK)
RECORDS_OK = _envelope({"type": "array", "items": TASK})


def install(app: FastAPI) -> None:
    """Adds the Basic scheme and drops FastAPI's unused 422 answers."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        components["securitySchemes"] = {"basicAuth": {"type": "http", "scheme": "basic"}}
        for name in ("HTTPValidationError", "ValidationError"):
            components.get("schemas", {}).pop(name, None)
        if not components.get("schemas"):
            components.pop("schemas", None)
        for path in schema.get("paths", {}).values():
            for op in path.values():
                op.get("responses", {}).pop("422", None)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
