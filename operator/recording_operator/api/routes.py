"""The three actions on ``/vhosts/{vhost}/apps/{app}:<action>`` (plus records' GET alias).

Each route is the spec's check order made literal: body size, JSON, vhost, app, field types,
the action's own checks, then one or two Kubernetes calls. Anything unmatched (another action,
another method) falls through to the 404 handler.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..model.config import AppConfig
from ..model.resource import State
from ..model.task import task_view
from ..model.timefmt import format_time, now
from . import openapi
from .body import parse_object, read_body
from .errors import ApiError, ok_body
from .manifest import recording_manifest
from .settings import ApiSettings
from .store import AlreadyExists, QuotaExceeded, Recording, RecordingStore, Rejected
from .validation import (
    DUPLICATE,
    app_config,
    check_task_limit,
    no_record,
    records_filter,
    start_record_spec,
    stop_record_id,
)
from .views import RenderedJSON, TaskViews

_PATH = "/vhosts/{vhost}/apps/{app}"


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def _store(request: Request) -> RecordingStore:
    store: RecordingStore = request.app.state.store
    return store


async def _checked_body(
    request: Request, vhost: str, app: str
) -> tuple[dict[str, Any], AppConfig, str]:
    """Common checks 0-3: the body, then the vhost and app; also the app's namespace."""
    body = parse_object(await read_body(request))
    config = _settings(request).config
    app_cfg = app_config(config, vhost, app)
    return body, app_cfg, config.namespace_of(vhost, app)


def build_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter()
    legacy = settings.legacy_start_record_array
    views = TaskViews()

    @router.post(
        f"{_PATH}:startRecord",
        summary="Start Recording",
        operation_id="VHostAppStartRecordPost",
        response_class=JSONResponse,
        **openapi.operation(
            openapi.START_RECORD, openapi.start_record_ok(legacy), required=True, conflict=True
        ),
    )
    async def start_record(vhost: str, app: str, request: Request) -> JSONResponse:
        body, app_cfg, namespace = await _checked_body(request, vhost, app)
        spec = start_record_spec(body, vhost, app, app_cfg)
        store = _store(request)
        # 7. the id is unique per vhost/app, also against Recordings made with kubectl under
        # another name; the derived name makes the create itself refuse a racing duplicate.
        if await store.find(namespace, vhost, app, spec.id):
            raise ApiError(409, DUPLICATE)
        # 8. the app's maxTasks (a soft limit: two racing creates may both pass)
        if app_cfg.max_tasks is not None:
            check_task_limit(app_cfg, vhost, app, len(await store.list(namespace, vhost, app)))
        try:
            created = await store.create(
                namespace, recording_manifest(spec, namespace, format_time(now()))
            )
        except AlreadyExists:
            raise ApiError(409, DUPLICATE) from None
        except Rejected as exc:
            raise ApiError(400, f"Invalid request: {exc}") from None
        except QuotaExceeded as exc:  # a ResourceQuota: the same answer as maxTasks
            raise ApiError(409, f"The namespace's quota allows no more tasks: {exc}") from None
        task = task_view(created)
        return JSONResponse(ok_body([task] if legacy else task))

    @router.post(
        f"{_PATH}:stopRecord",
        summary="Stop Recording",
        operation_id="VHostAppStopRecordPost",
        response_class=JSONResponse,
        **openapi.operation(openapi.BY_ID, openapi.STOP_RECORD_OK, required=True),
    )
    async def stop_record(vhost: str, app: str, request: Request) -> JSONResponse:
        body, _, namespace = await _checked_body(request, vhost, app)
        record_id = stop_record_id(body)
        store = _store(request)
        stopped: list[Recording] = []
        # Normally one; several only if kubectl users made duplicates: stop them all.
        for recording in await store.find(namespace, vhost, app, record_id):
            if await store.delete(namespace, recording["metadata"]["name"]):
                stopped.append(recording)
        if not stopped:
            raise no_record(record_id)
        return JSONResponse(ok_body(task_view(stopped[0], state=State.STOPPING)))

    @router.post(
        f"{_PATH}:records",
        summary="Get Recording State",
        operation_id="VHostAppRecordsPost",
        response_class=JSONResponse,
        **openapi.operation(openapi.BY_ID, openapi.RECORDS_OK),
    )
    async def records(vhost: str, app: str, request: Request) -> JSONResponse:
        body, _, namespace = await _checked_body(request, vhost, app)
        record_id = records_filter(body)
        store = _store(request)
        # Both reads are consistent (see api/cache.py); one task is asked of the API server
        # directly (a field-selected LIST), which is cheaper than proving the cache current.
        found = (await store.find(namespace, vhost, app, record_id) if record_id is not None
                 else await store.list(namespace, vhost, app))
        return RenderedJSON(views.records_body(found))

    @router.get(
        f"{_PATH}:records",
        summary="Get Recording State (deprecated alias: lists all)",
        operation_id="VHostAppRecordsGet",
        response_class=JSONResponse,
        deprecated=True,
        **openapi.operation(None, openapi.RECORDS_OK),
    )
    async def records_get(vhost: str, app: str, request: Request) -> JSONResponse:
        config = _settings(request).config
        app_config(config, vhost, app)
        found = await _store(request).list(config.namespace_of(vhost, app), vhost, app)
        return RenderedJSON(views.records_body(found))

    return router
