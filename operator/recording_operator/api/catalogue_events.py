"""``POST {prefix}/catalogue/events``: the delivery's signed file events, into the catalogue.

The gate lets this path through without the access token: the sender is the delivery, which
signs every event (Standard Webhooks) with the catalogue's own secret instead, checked here in
constant time. The answer is 2xx only once the event is stored, so the delivery retries
anything else; storing is an idempotent upsert, so a retried or duplicated event changes
nothing twice. Events not about a file (recording.started, ...) are acknowledged and ignored.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..catalogue import BadEvent, Catalogue
from ..delivery.signing import SignatureError, verify
from .errors import ApiError, ok_body
from .settings import ApiSettings

log = logging.getLogger(__name__)

PATH = "/catalogue/events"
#: An event is one info XML entry: far below this.
MAX_EVENT_BYTES = 256 * 1024


def catalogue_of(request: Request) -> Catalogue:
    catalogue: Catalogue | None = getattr(request.app.state, "catalogue", None)
    if catalogue is None:
        raise ApiError(503, "The recordings catalogue is not configured (catalogue.url)")
    return catalogue


def build_catalogue_events_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter()

    @router.post(PATH, include_in_schema=False)
    async def receive(request: Request) -> JSONResponse:
        if not settings.catalogue_secret:
            raise ApiError(503, "The catalogue has no event secret configured")
        body = await request.body()
        if len(body) > MAX_EVENT_BYTES:
            raise ApiError(413, "Event over 256 KiB")
        try:
            verify(settings.catalogue_secret, dict(request.headers), body)
        except SignatureError as exc:
            raise ApiError(401, f"Event signature refused: {exc}") from None
        try:
            event = json.loads(body)
            kind = event["type"]
            data = event["data"]
            if not isinstance(kind, str) or not isinstance(data, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "Invalid event: a CloudEvent with type and data") from None
        catalogue = catalogue_of(request)
        try:
            applied = await run_in_threadpool(
                catalogue.apply_event, kind, data, _deletes_after_upload(settings, data))
        except BadEvent as exc:
            raise ApiError(400, f"Invalid event: {exc}") from None
        return JSONResponse(ok_body({"applied": applied}))

    return router


def _deletes_after_upload(settings: ApiSettings, data: dict[str, Any]) -> bool:
    """Whether the delivery removes the app's local copies once uploaded (it sends no event
    for that removal): the app's ``upload.deleteLocal``."""
    app = settings.config.app(str(data.get("vhost")), str(data.get("app")))
    return bool(app and app.upload and app.upload.delete_local)
