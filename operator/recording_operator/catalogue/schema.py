"""The catalogue's tables, as SQLAlchemy 2.x declarative models.

One row per finished file, keyed by what the delivery's events are about (vhost, app,
transactionId, sequence), so an event delivered twice, or a rebuild after the events, lands on
the same row. ``streams`` keeps, per stream, the longest file seen: a range query then reads
only the index entries that can overlap the range (start time >= range start - longest), which
keeps it fast however many days of files a stream has.

Times are stored as UTC instants (timezone-aware on PostgreSQL, naive UTC on SQLite, which has
no time zone type); :mod:`.store` converts at the edge.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class FileRecord(Base):
    """A finished media file of a recording task."""

    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("vhost", "app", "transaction_id", "sequence", name="uq_files_file"),
        Index("ix_files_stream_start", "vhost", "app", "stream", "start_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    vhost: Mapped[str] = mapped_column(String(63))
    app: Mapped[str] = mapped_column(String(63))
    stream: Mapped[str] = mapped_column(String(255))
    #: The task's id (``id`` of startRecord).
    record_id: Mapped[str] = mapped_column(String(255))
    transaction_id: Mapped[str] = mapped_column(String(255))
    sequence: Mapped[int] = mapped_column(Integer)
    last_sequence: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Relative to the storage root, as the info XML holds it.
    file_path: Mapped[str] = mapped_column(Text)
    metadata_text: Mapped[str] = mapped_column(Text, default="")
    created_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finish_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Media time: the file's duration in milliseconds (the info XML's recordTime).
    record_time_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: e.g. "video,audio" when known (the events do not carry it yet).
    tracks: Mapped[str | None] = mapped_column(String(255))
    #: The local copy exists (as far as the events tell).
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ``s3://bucket/key`` once uploaded.
    url: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(255))
    checksum: Mapped[str | None] = mapped_column(String(255))


class StreamExtent(Base):
    """Per stream, the longest file (seconds): the look-back of a range query."""

    __tablename__ = "streams"

    vhost: Mapped[str] = mapped_column(String(63), primary_key=True)
    app: Mapped[str] = mapped_column(String(63), primary_key=True)
    stream: Mapped[str] = mapped_column(String(255), primary_key=True)
    longest_seconds: Mapped[float] = mapped_column(Float, default=0.0)
