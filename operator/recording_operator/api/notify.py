"""``POST /v1/notify[/<dialect>]``: media servers tell us a stream was published or ended.

Four dialects, each answered as its server expects: nginx-rtmp's on_publish/on_publish_done
(2xx), OvenMediaEngine's AdmissionWebhooks (``{"allowed": true}``), SRS's http_hooks (``0``)
and our plain JSON (MediaMTX's runOnReady with curl). Three of those servers wait for the
answer before they admit the publisher, so the answer goes out at once and the effects
(api/onpublish.py) run afterwards: a slow Kubernetes API never delays a publish, and anything
short of a wrong token admits it (fail open).

The access token is the API's, as Basic auth or, for servers that cannot send headers
(nginx-rtmp, SRS, OME's URL), a ``token`` query parameter; both are compared in constant time.
These paths are public for the API's gate (api/gate.py), which knows only the header, and
checked here instead. A wrong token gets 401 and changes nothing. ``vhost`` (query, default
``default``) says which of our vhosts the server's apps belong to.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import dialects, metrics
from .auth import REALM_HEADER, authorization_problem
from .body import read_body
from .errors import ApiError, error_body
from .onpublish import DEFAULT_VHOST, PublishEffects
from .settings import ApiSettings
from .store import RecordingStore

log = logging.getLogger(__name__)

NOTIFY = "/notify"
#: dialect → path under the prefix
PATHS = {
    "plain": NOTIFY,
    "nginx-rtmp": f"{NOTIFY}/nginx-rtmp",
    "ovenmediaengine": f"{NOTIFY}/ovenmediaengine",
    "srs": f"{NOTIFY}/srs",
}
#: The API's Prometheus counts (api/metrics.py): notifications and their outcomes, and how
#: records reads were made consistent.
METRICS = f"{NOTIFY}/metrics"
#: Notifications are small; nginx-rtmp's form with a publisher's arguments is the largest.
MAX_NOTIFY_BYTES = 16 * 1024


def public_paths(prefix: str) -> set[str]:
    """The paths the gate lets through: they check the token themselves (header or query)."""
    return {prefix + path for path in PATHS.values()}


def _authorised(request: Request, token: bytes) -> bool:
    header = request.headers.get("authorization")
    if header is not None and authorization_problem(header, token) is None:
        return True
    query = request.query_params.get("token")
    return query is not None and hmac.compare_digest(query.encode("utf-8"), token)


def _refused() -> JSONResponse:
    text = "Invalid credential (Basic auth or the token query parameter)"
    return JSONResponse(error_body(401, text), status_code=401, headers=REALM_HEADER)


def _effects(request: Request, settings: ApiSettings) -> PublishEffects:
    app = request.app
    effects: PublishEffects | None = getattr(app.state, "publish_effects", None)
    if effects is None:
        def store() -> RecordingStore:
            current: RecordingStore = app.state.store
            return current

        effects = app.state.publish_effects = PublishEffects(settings.config, store)
    return effects


def build_notify_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter()
    token = settings.access_token.encode("utf-8")

    async def receive(
        request: Request, parse: Callable[[bytes], dialects.StreamEvent | None], dialect: str
    ) -> tuple[bool, str]:
        """(accepted, why not): reads and applies the notification; never raises for a bad
        body, whose publish must not be refused because we could not read it."""
        try:
            body = await read_body(request, MAX_NOTIFY_BYTES)
            event = parse(body)
        except (dialects.NotificationError, ApiError) as exc:
            log.warning("unreadable %s notification ignored: %s", dialect, exc)
            return False, str(exc)
        if event is None:
            return False, "not a publish or unpublish"
        vhost = request.query_params.get("vhost") or DEFAULT_VHOST
        if not _effects(request, settings).submit(event, vhost):
            return False, f"unknown vhost/app {event.vhost or vhost}/{event.app}"
        return True, ""

    @router.post(PATHS["nginx-rtmp"], include_in_schema=False)
    async def nginx_rtmp(request: Request) -> Response:
        if not _authorised(request, token):
            return _refused()
        await receive(request, dialects.nginx_rtmp, "nginx-rtmp")
        return Response(status_code=200)

    @router.post(PATHS["ovenmediaengine"], include_in_schema=False)
    async def ovenmediaengine(request: Request) -> Response:
        if not _authorised(request, token):
            return _refused()
        await receive(request, dialects.ovenmediaengine, "ovenmediaengine")
        # to "closing" OME expects an empty object; "allowed" there is ignored, so one answer
        return JSONResponse({"allowed": True})

    @router.post(PATHS["srs"], include_in_schema=False)
    async def srs(request: Request) -> Response:
        if not _authorised(request, token):
            return _refused()
        await receive(request, dialects.srs, "srs")
        return Response(b"0", media_type="application/json")

    @router.post(PATHS["plain"], include_in_schema=False)
    async def plain(request: Request) -> Response:
        if not _authorised(request, token):
            return _refused()
        try:
            body = await read_body(request, MAX_NOTIFY_BYTES)
            event = dialects.plain(body)
        except dialects.NotificationError as exc:
            raise ApiError(400, f"Invalid notification: {exc}") from None
        vhost = request.query_params.get("vhost") or DEFAULT_VHOST
        accepted = _effects(request, settings).submit(event, vhost)
        message = "OK" if accepted else "ignored: unknown vhost/app"
        return JSONResponse({"statusCode": 200, "message": message})

    @router.get(METRICS, include_in_schema=False)
    async def notify_metrics() -> Response:
        # behind the access token (the gate): Prometheus sends it as a raw Basic credential
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return router
