"""The catalogue's backends: SQLite in a temp dir, and a real PostgreSQL server (Debian's
``postgresql``) started once per session in a private cluster (marked ``postgres``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recording_operator.catalogue import Catalogue
from recording_operator.local.postgres import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalogue_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalogue.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    engine = Catalogue.open(server.url).engine
    # Each test starts from an empty catalogue on the shared server.
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS files, streams, alembic_version")
    engine.dispose()
    yield server.url
