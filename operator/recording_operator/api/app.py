"""The app factory: one FastAPI app per settings, its store opened for the app's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..catalogue import Catalogue, CatalogueUnavailable
from . import openapi
from .cache import CachedStore
from .catalogue_events import PATH as CATALOGUE_EVENTS_PATH
from .catalogue_events import build_catalogue_events_router
from .console import PUBLIC_PATHS as CONSOLE_PATHS
from .console import build_console_router
from .errors import ApiError, error_response, install_error_handlers
from .export import build_export_router
from .gate import Gate
from .notify import build_notify_router, public_paths
from .recordings import build_recordings_router
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
        async with _catalogue(app, settings), _store(app):
            yield

    @asynccontextmanager
    async def _store(app: FastAPI) -> AsyncIterator[None]:
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
    app.add_exception_handler(CatalogueUnavailable, _unavailable)
    app.include_router(build_router(settings), prefix=settings.prefix)
    app.include_router(build_notify_router(settings), prefix=settings.prefix)
    app.include_router(build_recordings_router(settings), prefix=settings.prefix)
    app.include_router(build_export_router(settings), prefix=settings.prefix)
    app.include_router(build_console_router(settings))
    app.include_router(build_catalogue_events_router(settings), prefix=settings.prefix)

    @app.get(HEALTH_PATH, include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"statusCode": 200, "message": "OK"})

    openapi.install(app)
    app.add_middleware(
        Gate,
        token=settings.access_token,
        # the notification routes take the token as a header or a query parameter themselves
        # /openapi.json names every action and field: it needs the token unless made public
        # the catalogue's event receiver checks the delivery's signature instead
        public_paths={HEALTH_PATH, *public_paths(settings.prefix),
                      settings.prefix + CATALOGUE_EVENTS_PATH,
                      # the console's page and assets hold no data (its calls take the token)
                      *CONSOLE_PATHS,
                      *((OPENAPI_PATH,) if settings.public_openapi else ())},
    )
    return app


@asynccontextmanager
async def _catalogue(app: FastAPI, settings: ApiSettings) -> AsyncIterator[None]:
    """Opens the catalogue (migrating its schema) for the app's lifetime, when configured."""
    app.state.catalogue = None
    if not settings.catalogue_url:
        yield
        return
    catalogue = await run_in_threadpool(Catalogue.open, settings.catalogue_url)
    app.state.catalogue = catalogue
    try:
        yield
    finally:
        catalogue.close()


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recording-operator")
    except PackageNotFoundError:
        return "0+unknown"
