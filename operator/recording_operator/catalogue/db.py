"""Opening a catalogue: one URL picks the database, Alembic brings its schema up to date.

SQLite (``sqlite:///<data dir>/catalogue.db``) is the embedded default; PostgreSQL
(``postgresql+psycopg://...``) serves several API replicas. Migrations run programmatically
at start, from the scripts shipped in the package (``catalogue/migrations``), under a
transaction: PostgreSQL's transactional DDL and an advisory lock make concurrent replicas
starting at once take turns.
"""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SCRIPTS = "recording_operator.catalogue:migrations"
#: Any fixed number: the advisory lock replicas take while migrating (PostgreSQL).
_MIGRATION_LOCK = 0x5245434F


class CatalogueUrlError(ValueError):
    """The catalogue URL is malformed or names a database we do not support."""


def sqlite_url(path: str) -> str:
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers (the API's queries) never wait for the writer (the event receiver).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL through psycopg 3)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise CatalogueUrlError(f"catalogue.url: not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() in ("", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_recycle=300)
    raise CatalogueUrlError(
        f"catalogue.url: {backend!r} is not supported (sqlite:/// or postgresql://)")


def upgrade(engine: Engine) -> None:
    """Brings the schema to the newest revision (a no-op when it is there)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", SCRIPTS)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
