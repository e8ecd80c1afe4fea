"""Retention's choice: oldest first, by age and by bytes, never a file not yet confirmed."""

from __future__ import annotations

from recording_operator.delivery.journal import LOCAL, PENDING, UPLOADED, FileRow
from recording_operator.delivery.retention import choose
from recording_operator.model.delivery import RetentionConfig

from .support import ENTRY

NOW = 1_000_000.0


def _row(n: int, state: str, age: float, size: int = 100) -> FileRow:
    return FileRow(id=n, root="/r", rel=f"{n}.ts", vhost="default", app="app", entry=ENTRY,
                   size=size, mtime=NOW - age, state=state, reason=None, attempts=0, url=None,
                   etag=None, checksum=None, local_removed=False)


def test_by_bytes_oldest_first_until_under_the_limit() -> None:
    rows = [_row(1, LOCAL, 50), _row(2, UPLOADED, 40), _row(3, LOCAL, 30), _row(4, LOCAL, 20)]
    chosen = choose(rows, RetentionConfig(max_bytes=250), NOW)
    assert [d.row.id for d in chosen] == [1, 2]


def test_by_age() -> None:
    rows = [_row(1, LOCAL, 7200), _row(2, LOCAL, 3700), _row(3, LOCAL, 60)]
    assert [d.row.id for d in choose(rows, RetentionConfig(max_age="1h"), NOW)] == [1, 2]


def test_never_a_file_whose_upload_is_not_confirmed() -> None:
    rows = [_row(1, PENDING, 9999), _row(2, PENDING, 9999), _row(3, LOCAL, 10)]
    chosen = choose(rows, RetentionConfig(max_age="1s", max_bytes=0), NOW)
    assert [d.row.id for d in chosen] == [3]
