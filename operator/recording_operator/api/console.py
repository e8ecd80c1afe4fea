"""The console at ``/console``: a page, a style sheet and a script shipped in the package.

Plain files, no build step and nothing from a CDN: what the wheel holds is what the browser
runs. The page and its assets hold no data and are served without the token; everything the
page shows comes from the API's own routes, called with the token the user typed (kept in the
tab's sessionStorage, sent as Basic auth) -- ``/console/apps``, which lists the configured
apps, is the first of them and doubles as the sign-in check.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from .settings import ApiSettings

PAGE = "/console"
ASSETS = {"console.css": "text/css; charset=utf-8",
          "console.js": "text/javascript; charset=utf-8"}
#: Served without the token (the Gate's public paths).
PUBLIC_PATHS = frozenset({PAGE, *(f"{PAGE}/{name}" for name in ASSETS)})
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
            # only our own scripts and the API: no inline script, nothing from elsewhere
            "Content-Security-Policy": "default-src 'self'; media-src 'self' blob:; "
                                       "img-src 'self' data:; frame-ancestors 'none'"}


def _asset(name: str) -> bytes:
    return files(__package__).joinpath("console", name).read_bytes()


def build_console_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(PAGE)
    async def page() -> Response:
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8",
                        headers=_HEADERS)

    for name, media_type in ASSETS.items():
        def serve(name: str = name, media_type: str = media_type) -> Response:
            return Response(_asset(name), media_type=media_type, headers=_HEADERS)

        router.add_api_route(f"{PAGE}/{name}", serve, methods=["GET"])

    @router.get(f"{PAGE}/apps")
    async def apps() -> JSONResponse:
        return JSONResponse({
            "prefix": settings.prefix,
            "apps": [{"vhost": vhost, "app": app}
                     for vhost, vcfg in settings.config.vhosts.items() for app in vcfg.apps],
        })

    return router
