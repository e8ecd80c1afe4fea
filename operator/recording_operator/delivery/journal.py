"""The delivery journal: every finished file's state and every event's outbox row, in SQLite.

It lives on the recordings volume next to the files it describes (``.delivery/journal.db``), so
it survives restarts of every component and moves with the volume. Each step that matters is
one transaction: a file is found together with its ``file.finished`` event; it is marked
uploaded together with its ``file.uploaded`` event; so a SIGKILL between any two statements
leaves either the old state or the new one. Event rows are unique by (event id, receiver):
finding the same file again after a crash adds nothing.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from ..recorder.infofile import InfoEntry
from .events import Event

#: A file's delivery states.
PENDING = "pending"        # to upload (retried until the store confirms)
UPLOADED = "uploaded"      # the store confirmed the whole object
LOCAL = "local"            # no upload configured for its app: kept locally (retention applies)
LOST = "lost"              # gone from the volume before it could be uploaded (loud: see reason)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    root TEXT NOT NULL,
    rel TEXT NOT NULL,
    vhost TEXT NOT NULL,
    app TEXT NOT NULL,
    entry TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    url TEXT,
    etag TEXT,
    checksum TEXT,
    found_at REAL NOT NULL,
    uploaded_at REAL,
    local_removed INTEGER NOT NULL DEFAULT 0,
    UNIQUE (root, rel)
);
CREATE INDEX IF NOT EXISTS files_state ON files (vhost, app, state, id);
CREATE TABLE IF NOT EXISTS infos (
    root TEXT NOT NULL,
    rel TEXT NOT NULL,
    uploaded_sha256 TEXT,
    PRIMARY KEY (root, rel)
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    receiver TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    body BLOB NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    delivered REAL,
    given_up REAL,
    last_error TEXT,
    UNIQUE (event_id, receiver)
);
CREATE INDEX IF NOT EXISTS outbox_open ON outbox (receiver, ordering_key, seq)
    WHERE delivered IS NULL AND given_up IS NULL;
"""


@dataclass(frozen=True)
class FileRow:
    id: int
    root: str
    rel: str
    vhost: str
    app: str
    entry: InfoEntry
    size: int
    mtime: float
    state: str
    reason: str | None
    attempts: int
    url: str | None
    etag: str | None
    checksum: str | None
    local_removed: bool

    @property
    def path(self) -> Path:
        return Path(self.root) / self.rel


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event_id: str
    kind: str
    target: str
    receiver: str
    ordering_key: str
    body: bytes
    created: float
    attempts: int


def _file(row: sqlite3.Row) -> FileRow:
    return FileRow(
        id=row["id"], root=row["root"], rel=row["rel"], vhost=row["vhost"], app=row["app"],
        entry=InfoEntry(**json.loads(row["entry"])), size=row["size"], mtime=row["mtime"],
        state=row["state"], reason=row["reason"], attempts=row["attempts"], url=row["url"],
        etag=row["etag"], checksum=row["checksum"], local_removed=bool(row["local_removed"]))


#: Space kept aside next to the journal, given back when the volume is full so that the
#: journal can still record the uploads (and local deletes) that free the volume.
RESERVE_BYTES = 4 * 1024 * 1024


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's (or the OS's) "the volume is full"."""
    if isinstance(exc, sqlite3.OperationalError):
        return "full" in str(exc).lower()
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class Journal:
    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            self._db.row_factory = sqlite3.Row
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        # WAL: a reader (status, metrics) never blocks the writer; FULL: a committed step
        # survives a power cut too, not only a killed process.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.reserve = path.with_name(path.name + ".reserve")
        self.keep_reserve()

    def keep_reserve(self) -> None:
        """(Re)makes the reserve when the volume has room for it several times over (taking it
        back from a volume that is nearly full would fill it again); a no-op when it exists."""
        if self.reserve.exists():
            return
        try:
            stat = os.statvfs(self.reserve.parent)
            if stat.f_bavail * stat.f_frsize < 4 * RESERVE_BYTES:
                return
            with open(self.reserve, "wb") as out:
                out.write(b"\0" * RESERVE_BYTES)
                out.flush()
                os.fsync(out.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                self.reserve.unlink()

    def release_reserve(self) -> bool:
        """Gives the reserve back to a full volume; True if there was one."""
        try:
            self.reserve.unlink()
        except FileNotFoundError:
            return False
        return True

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- files ------------------------------------------------------------------------------

    def known(self, root: str) -> set[str]:
        """Relative paths of every file this root ever had in the journal."""
        rows = self._db.execute("SELECT rel FROM files WHERE root = ?", (root,))
        return {row[0] for row in rows}

    def add_file(self, root: str, entry: InfoEntry, size: int, mtime: float, state: str,
                 events: Iterable[tuple[Event, str, list[str]]], reason: str | None = None,
                 ) -> int | None:
        """Records a newly finished file and its events at once; its row id, or None when it
        was already known."""
        now = time.time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO files (root, rel, vhost, app, entry, size, mtime, state,"
                " reason, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (root, entry.file_path, entry.vhost, entry.app, json.dumps(asdict(entry)), size,
                 mtime, state, reason, now))
            if cursor.rowcount == 0:
                return None
            self._enqueue(db, events, now)
        return cursor.lastrowid

    def pending(self, vhost: str, app: str) -> FileRow | None:
        """The oldest file of an app still waiting for the store."""
        row = self._db.execute(
            "SELECT * FROM files WHERE vhost = ? AND app = ? AND state = ? ORDER BY id LIMIT 1",
            (vhost, app, PENDING)).fetchone()
        return None if row is None else _file(row)

    def failed_attempt(self, file_id: int, reason: str) -> None:
        self._db.execute("UPDATE files SET attempts = attempts + 1, reason = ? WHERE id = ?",
                         (reason, file_id))

    def uploaded(self, file_id: int, url: str, etag: str, checksum: str,
                 events: Iterable[tuple[Event, str, list[str]]]) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute("UPDATE files SET state = ?, reason = NULL, url = ?, etag = ?,"
                       " checksum = ?, uploaded_at = ? WHERE id = ?",
                       (UPLOADED, url, etag, checksum, now, file_id))
            self._enqueue(db, events, now)

    def lost(self, file_id: int, reason: str) -> None:
        self._db.execute("UPDATE files SET state = ?, reason = ? WHERE id = ?",
                         (LOST, reason, file_id))

    def local_removed(self, file_id: int,
                      events: Iterable[tuple[Event, str, list[str]]] = ()) -> None:
        with self._tx() as db:
            db.execute("UPDATE files SET local_removed = 1 WHERE id = ?", (file_id,))
            self._enqueue(db, events, time.time())

    def uploaded_still_local(self) -> list[FileRow]:
        """Confirmed files whose local copy a crash kept (deleted on start when configured)."""
        rows = self._db.execute("SELECT * FROM files WHERE state = ? AND local_removed = 0"
                                " ORDER BY id", (UPLOADED,))
        return [_file(row) for row in rows]

    def kept_local(self, vhost: str, app: str) -> list[FileRow]:
        """An app's files still on the volume, oldest first (what retention looks at)."""
        rows = self._db.execute(
            "SELECT * FROM files WHERE vhost = ? AND app = ? AND local_removed = 0"
            " AND state != ? ORDER BY id", (vhost, app, LOST))
        return [_file(row) for row in rows]

    def files_of(self, vhost: str, app: str, record_id: str, limit: int = 10) -> list[FileRow]:
        rows = self._db.execute(
            "SELECT * FROM files WHERE vhost = ? AND app = ? AND json_extract(entry, '$.id') = ?"
            " ORDER BY id DESC LIMIT ?", (vhost, app, record_id, limit))
        return [_file(row) for row in reversed(list(rows))]

    def counts_of(self, vhost: str, app: str, record_id: str) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT state, count(*) FROM files WHERE vhost = ? AND app = ?"
            " AND json_extract(entry, '$.id') = ? GROUP BY state", (vhost, app, record_id))
        return {row[0]: row[1] for row in rows}

    def queue_figures(self) -> tuple[int, float | None]:
        """(pending files, found time of the oldest pending file)."""
        row = self._db.execute("SELECT count(*), min(found_at) FROM files WHERE state = ?",
                               (PENDING,)).fetchone()
        return int(row[0]), row[1]

    # -- info files -------------------------------------------------------------------------

    def info_uploaded_sha256(self, root: str, rel: str) -> str | None:
        row = self._db.execute("SELECT uploaded_sha256 FROM infos WHERE root = ? AND rel = ?",
                               (root, rel)).fetchone()
        return None if row is None else str(row[0])

    def info_uploaded(self, root: str, rel: str, sha256: str) -> None:
        self._db.execute("INSERT INTO infos (root, rel, uploaded_sha256) VALUES (?, ?, ?)"
                         " ON CONFLICT (root, rel) DO UPDATE SET uploaded_sha256 = excluded"
                         ".uploaded_sha256", (root, rel, sha256))

    # -- outbox -----------------------------------------------------------------------------

    def enqueue(self, events: Iterable[tuple[Event, str, list[str]]]) -> None:
        with self._tx() as db:
            self._enqueue(db, events, time.time())

    @staticmethod
    def _enqueue(db: sqlite3.Connection, events: Iterable[tuple[Event, str, list[str]]],
                 now: float) -> None:
        for event, target, receivers in events:
            for receiver in receivers:
                db.execute(
                    "INSERT OR IGNORE INTO outbox (event_id, kind, target, receiver,"
                    " ordering_key, body, created, next_attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (event.id, event.type, target, receiver, event.ordering_key, event.body, now,
                     now))

    def has_event(self, event_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM outbox WHERE event_id = ? LIMIT 1", (event_id,))
        return row.fetchone() is not None

    def due_events(self, now: float, limit: int = 64) -> list[OutboxRow]:
        """The head of each (receiver, Recording) line whose retry time has come."""
        rows = self._db.execute(
            "SELECT o.* FROM outbox o WHERE o.delivered IS NULL AND o.given_up IS NULL"
            " AND o.seq = (SELECT min(p.seq) FROM outbox p WHERE p.receiver = o.receiver"
            " AND p.ordering_key = o.ordering_key AND p.delivered IS NULL"
            " AND p.given_up IS NULL) AND o.next_attempt <= ? ORDER BY o.seq LIMIT ?",
            (now, limit))
        return [OutboxRow(seq=r["seq"], event_id=r["event_id"], kind=r["kind"],
                          target=r["target"], receiver=r["receiver"],
                          ordering_key=r["ordering_key"], body=bytes(r["body"]),
                          created=r["created"], attempts=r["attempts"]) for r in rows]

    def next_event_time(self) -> float | None:
        row = self._db.execute("SELECT min(next_attempt) FROM outbox WHERE delivered IS NULL"
                               " AND given_up IS NULL").fetchone()
        return None if row[0] is None else float(row[0])

    def delivered(self, seq: int) -> None:
        self._db.execute("UPDATE outbox SET delivered = ?, attempts = attempts + 1,"
                         " last_error = NULL WHERE seq = ?", (time.time(), seq))

    def attempt_failed(self, seq: int, error: str, next_attempt: float | None) -> None:
        """A failed attempt; ``next_attempt`` None gives the event up (its retry time is over)."""
        if next_attempt is None:
            self._db.execute("UPDATE outbox SET given_up = ?, attempts = attempts + 1,"
                             " last_error = ? WHERE seq = ?", (time.time(), error, seq))
        else:
            self._db.execute("UPDATE outbox SET next_attempt = ?, attempts = attempts + 1,"
                             " last_error = ? WHERE seq = ?", (next_attempt, error, seq))

    def prune_events(self, older_than: float) -> int:
        """Forgets file events delivered or given up before ``older_than`` (a timestamp), so
        the outbox does not grow with every file ever recorded. Recording events stay: their
        ids are how a transaction already announced is recognised."""
        cursor = self._db.execute(
            "DELETE FROM outbox WHERE kind LIKE '%.file.%' AND coalesce(delivered, given_up) < ?",
            (older_than,))
        return int(cursor.rowcount)

    def event_figures(self) -> tuple[int, int]:
        """(events waiting, events given up)."""
        row = self._db.execute(
            "SELECT sum(delivered IS NULL AND given_up IS NULL), sum(given_up IS NOT NULL)"
            " FROM outbox").fetchone()
        return int(row[0] or 0), int(row[1] or 0)
