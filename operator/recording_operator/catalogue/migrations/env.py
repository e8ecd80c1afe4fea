"""Alembic's environment: always run programmatically by :func:`..db.upgrade`, which hands
over an open connection (there is no alembic.ini and no URL here)."""

from __future__ import annotations

from alembic import context

from recording_operator.catalogue.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
