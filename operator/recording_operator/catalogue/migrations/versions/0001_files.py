"""files and streams: the first catalogue schema.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("vhost", sa.String(63), nullable=False),
        sa.Column("app", sa.String(63), nullable=False),
        sa.Column("stream", sa.String(255), nullable=False),
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("transaction_id", sa.String(255), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("last_sequence", sa.Boolean(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("metadata_text", sa.Text(), nullable=False),
        sa.Column("created_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finish_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("tracks", sa.String(255), nullable=True),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("etag", sa.String(255), nullable=True),
        sa.Column("checksum", sa.String(255), nullable=True),
        sa.UniqueConstraint("vhost", "app", "transaction_id", "sequence", name="uq_files_file"),
    )
    op.create_index("ix_files_stream_start", "files", ["vhost", "app", "stream", "start_time"])
    op.create_table(
        "streams",
        sa.Column("vhost", sa.String(63), primary_key=True),
        sa.Column("app", sa.String(63), primary_key=True),
        sa.Column("stream", sa.String(255), primary_key=True),
        sa.Column("longest_seconds", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("streams")
    op.drop_index("ix_files_stream_start", table_name="files")
    op.drop_table("files")
