"""The catalogue's reads and writes: what an event changes, and the files of a time range.

Synchronous SQLAlchemy on purpose: Alembic is synchronous, a query by stream and range takes
milliseconds, and the API runs these calls in its thread pool. Every write is one transaction
and idempotent (an upsert on (vhost, app, transactionId, sequence)), so a delivery that
retries, or a rebuild over rows the events already made, changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..model import coverage
from ..model.coverage import Gap
from .db import make_engine, upgrade
from .schema import FileRecord, StreamExtent

FILE_FINISHED = "dev.recording-operator.file.finished"
FILE_UPLOADED = "dev.recording-operator.file.uploaded"
FILE_DELETED = "dev.recording-operator.file.deleted"


class CatalogueUnavailable(RuntimeError):
    """The database failed (down, restarting, connection lost): try again later. A lost
    connection is dropped from the pool, so the next call reconnects."""


def _unavailable(exc: DBAPIError) -> CatalogueUnavailable:
    return CatalogueUnavailable(f"the catalogue's database failed: {exc.orig or exc}")


class BadEvent(ValueError):
    """An event's ``data`` lacks a field the catalogue needs (the message names it)."""


@dataclass(frozen=True)
class CatalogueFile:
    """One finished file as the catalogue knows it (what the recordings API lists)."""

    id: int
    vhost: str
    app: str
    stream: str
    record_id: str
    transaction_id: str
    sequence: int
    last_sequence: bool
    #: Relative to the storage root (the info XML's ``filePath``).
    file_path: str
    start_time: datetime
    finish_time: datetime
    record_time_ms: int
    bytes: int
    tracks: str | None
    #: A local copy exists under the storage root.
    local: bool
    #: ``s3://bucket/key`` once uploaded, else None.
    url: str | None


def _utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value (SQLite gives those back) is UTC as stored."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _time(data: Mapping[str, Any], key: str) -> datetime:
    value = data.get(key)
    if not isinstance(value, str):
        raise BadEvent(f"data.{key}: missing or not a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadEvent(f"data.{key}: not a time: {value!r}") from None
    if moment.tzinfo is None:
        raise BadEvent(f"data.{key}: a time without an offset: {value!r}")
    return moment.astimezone(UTC)


def _field(data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadEvent(f"data.{key}: missing or not {kind.__name__}")
    return value


def row_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The columns a ``file.*`` event's data (the info XML entry as JSON, plus size) sets."""
    created = data.get("createdTime")
    return {
        "vhost": _field(data, "vhost", str),
        "app": _field(data, "app", str),
        "stream": _field(data, "stream", str),
        "record_id": _field(data, "id", str),
        "transaction_id": _field(data, "transactionId", str),
        "sequence": _field(data, "sequence", int),
        "last_sequence": bool(data.get("lastSequence", False)),
        "file_path": _field(data, "filePath", str),
        "metadata_text": str(data.get("metadata") or ""),
        "created_time": _time(data, "createdTime") if isinstance(created, str) else None,
        "start_time": _time(data, "startTime"),
        "finish_time": _time(data, "finishTime"),
        "record_time_ms": int(data.get("recordTime") or 0),
        "bytes": int(data.get("size", data.get("recordBytes", 0)) or 0),
    }


class Catalogue:
    """The catalogue behind one database URL, its schema brought up to date on open."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._range = _range_statement(engine.dialect.name)

    @classmethod
    def open(cls, url: str) -> Catalogue:
        engine = make_engine(url)
        upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- writes -----------------------------------------------------------------------------

    def _insert(self) -> Any:
        dialect = self.engine.dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(FileRecord)

    def record_file(self, data: Mapping[str, Any], *, local: bool | None = True,
                    url: str | None = None, etag: str | None = None,
                    checksum: str | None = None) -> None:
        """Adds (or completes) one file's row. ``local`` None leaves it as it is; a ``url``
        is never cleared by a later or repeated event."""
        values = row_values(data)
        inserted = {**values, "local": True if local is None else local, "url": url,
                    "etag": etag, "checksum": checksum}
        changed = dict(values)
        if local is not None:
            changed["local"] = local
        if url is not None:
            changed.update(url=url, etag=etag, checksum=checksum)
        statement = self._insert().values(**inserted).on_conflict_do_update(
            index_elements=["vhost", "app", "transaction_id", "sequence"], set_=changed)
        longest = (values["finish_time"] - values["start_time"]).total_seconds()
        try:
            with Session(self.engine) as session, session.begin():
                session.execute(statement)
                self._extend(session, values["vhost"], values["app"], values["stream"],
                             longest)
        except DBAPIError as exc:
            raise _unavailable(exc) from exc

    def _extend(self, session: Session, vhost: str, app: str, stream: str,
                longest: float) -> None:
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql"
                  else sqlite.insert)(StreamExtent)
        excluded = insert.excluded.longest_seconds
        session.execute(insert.values(vhost=vhost, app=app, stream=stream,
                                      longest_seconds=max(longest, 0.0)).on_conflict_do_update(
            index_elements=["vhost", "app", "stream"],
            set_={"longest_seconds": func.max(StreamExtent.longest_seconds, excluded)
                  if self.engine.dialect.name == "sqlite"
                  else func.greatest(StreamExtent.longest_seconds, excluded)}))

    def apply_event(self, kind: str, data: Mapping[str, Any],
                    delete_local_after_upload: bool = False) -> bool:
        """Applies one delivery event; False when its type is not about a file (ignored).

        The delivery sends no event when it removes a local copy right after an upload
        (``deleteLocal``), so the receiver tells from the app's config
        (``delete_local_after_upload``) whether ``file.uploaded`` also ends the local copy.
        """
        if kind == FILE_FINISHED:
            self.record_file(data, local=None)
        elif kind == FILE_UPLOADED:
            self.record_file(data, local=False if delete_local_after_upload else None,
                             url=_field(data, "url", str), etag=data.get("etag"),
                             checksum=data.get("checksum"))
        elif kind == FILE_DELETED:
            self.record_file(data, local=False)
        else:
            return False
        return True

    def clear_local(self, vhost: str, app: str, transaction_id: str, sequence: int) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(update(FileRecord).where(
                FileRecord.vhost == vhost, FileRecord.app == app,
                FileRecord.transaction_id == transaction_id,
                FileRecord.sequence == sequence).values(local=False))

    # -- reads ------------------------------------------------------------------------------

    def files_in_range(self, vhost: str, app: str, stream: str, start: datetime,
                       end: datetime) -> list[CatalogueFile]:
        """The files of one stream overlapping [start, end), ordered by start time (then
        transaction and sequence). ``start`` and ``end`` must be timezone-aware.

        One indexed read, its statement built once: the index range of the stream from
        (start - the stream's longest file) to end, the look-back computed in the database
        from the ``streams`` row (none: no files)."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        try:
            with self.engine.connect() as conn:
                found = conn.execute(self._range, {
                    "vhost": vhost, "app": app, "stream": stream, "start": start,
                    "end": end}).all()
        except DBAPIError as exc:
            raise _unavailable(exc) from exc
        return [_file(row) for row in found]

    def file_by_id(self, vhost: str, app: str, stream: str, file_id: int
                   ) -> CatalogueFile | None:
        """One file of a stream by its catalogue ``id`` (the primary key: one indexed read)."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(*_COLUMNS).where(
                    FileRecord.id == file_id, FileRecord.vhost == vhost,
                    FileRecord.app == app, FileRecord.stream == stream)).first()
        except DBAPIError as exc:
            raise _unavailable(exc) from exc
        return None if row is None else _file(row)

    def all_files(self) -> list[CatalogueFile]:
        """Every row, in a stable order (for comparing a rebuild with what events made)."""
        with self.engine.connect() as conn:
            found = conn.execute(select(*_COLUMNS).order_by(
                FileRecord.vhost, FileRecord.app, FileRecord.transaction_id,
                FileRecord.sequence)).all()
        return [_file(row) for row in found]


#: The columns of a CatalogueFile, in its fields' order.
_COLUMNS = (FileRecord.id, FileRecord.vhost, FileRecord.app, FileRecord.stream,
            FileRecord.record_id, FileRecord.transaction_id, FileRecord.sequence,
            FileRecord.last_sequence, FileRecord.file_path, FileRecord.start_time,
            FileRecord.finish_time, FileRecord.record_time_ms, FileRecord.bytes,
            FileRecord.tracks, FileRecord.local, FileRecord.url)
_LONGEST = select(StreamExtent.longest_seconds + 1).where(
    StreamExtent.vhost == bindparam("vhost"), StreamExtent.app == bindparam("app"),
    StreamExtent.stream == bindparam("stream")).scalar_subquery()


def _range_statement(dialect: str) -> Any:
    """The range query for one dialect: only the look-back's date arithmetic differs."""
    start = bindparam("start", type_=FileRecord.start_time.type)
    if dialect == "postgresql":
        lookback: Any = start - func.make_interval(0, 0, 0, 0, 0, 0, _LONGEST)
    else:  # SQLite keeps times as text: datetime() gives a comparable prefix
        lookback = func.datetime(start, func.printf("-%f seconds", _LONGEST))
    return select(*_COLUMNS).where(
        FileRecord.vhost == bindparam("vhost"), FileRecord.app == bindparam("app"),
        FileRecord.stream == bindparam("stream"),
        FileRecord.start_time >= lookback,
        FileRecord.start_time < bindparam("end", type_=FileRecord.start_time.type),
        FileRecord.finish_time > bindparam("start", type_=FileRecord.finish_time.type),
    ).order_by(FileRecord.start_time, FileRecord.transaction_id, FileRecord.sequence)


def _file(row: Sequence[Any]) -> CatalogueFile:
    """A row of :data:`_COLUMNS` (SQLite gives booleans as ints, times naive)."""
    (id_, vhost, app, stream, record_id, transaction_id, sequence, last_sequence, file_path,
     start_time, finish_time, record_time_ms, size, tracks, local, url) = row
    return CatalogueFile(id_, vhost, app, stream, record_id, transaction_id, sequence,
                         bool(last_sequence), file_path, _utc(start_time), _utc(finish_time),
                         record_time_ms, size, tracks, bool(local), url)


def gaps_between(files: list[CatalogueFile], start: datetime, end: datetime) -> list[Gap]:
    """The stretches of [start, end) no file covers, in order (files may overlap)."""
    return coverage.gaps(((f.start_time, f.finish_time) for f in files), start, end)
