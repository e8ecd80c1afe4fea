"""The app factory: one FastAPI app per settings, its store opened for the app's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from . import openapi
from .cache import CachedStore
from .errors import ApiError, error_response, install_error_handlers
from .gate import Gate
from .notify import build_notify_router, public_paths
from .routes import build_router
from .settings import ApiSettings
from .store import KubernetesStore, RecordingStore, StoreUnavailable

HEALTH_PATH = "/healthz"
STARTUP_SYNC_SECONDS = 10.0
OPENAPI_PATH = "/openapi.json"


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    return error_response(ApiError(503, str(exc)))


def create_app(settings: ApiSettings, store: RecordingStore | None = None) -> FastAPI:
    """The API app. Without ``store`` it connects to Kubernetes (``settings.kube``) on start-up
    and closes the connection on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if store is not None:
            app.state.store = store
            yield
            return
        kube = await KubernetesStore.connect(settings.kube, settings.kube_timeout)
        if settings.watch_cache:
            cached = CachedStore(kube, settings.config.namespaces(),
                                 consistent=settings.consistent_reads)
            cached.start()
            # Serve once the caches are filled (normally milliseconds); if the Kubernetes API
            # is away, serve anyway after a while: records answers 503 until they are.
            await cached.wait_synced(STARTUP_SYNC_SECONDS)
            app.state.store = cached
        else:
            app.state.store = kube
        try:
            yield
        finally:
            await app.state.store.close()

    app = FastAPI(
        title="recording-operator",
        summary="OvenMediaEngine-compatible recording API backed by Recording resources",
        version=_package_version(),
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_PATH,
        lifespan=lifespan,
        # "…:records/" is not a resource of ours: a 404, not a redirect
        redirect_slashes=False,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.include_router(build_router(settings), prefix=settings.prefix)
    app.include_router(build_notify_router(settings), prefix=settings.prefix)

    @app.get(HEALTH_PATH, include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"statusCode": 200, "message": "OK"})

    openapi.install(app)
    app.add_middleware(
        Gate,
        token=settings.access_token,
        # the notification routes take the token as a header or a query parameter themselves
        # /openapi.json names every action and field: it needs the token unless made public
        public_paths={HEALTH_PATH, *public_paths(settings.prefix),
                      *((OPENAPI_PATH,) if settings.public_openapi else ())},
    )
    return app


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recording-operator")
    except PackageNotFoundError:
        return "0+unknown"
