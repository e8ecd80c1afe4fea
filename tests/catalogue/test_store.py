"""The catalogue fed by the delivery's file events: one row per file whatever the repeats,
the URL once uploaded, the local copy gone once deleted, files of a range in order with gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from recording_operator.catalogue import (
    Catalogue,
    CatalogueUnavailable,
    files_in_range,
    gaps_between,
    store,
)
from recording_operator.delivery import events as delivery_events
from recording_operator.local.postgres import PostgresServer
from tests.waiting import wait_for

T0 = datetime(2026, 3, 1, 14, 0, tzinfo=UTC)


def entry(sequence: int, start: datetime, seconds: float = 20, *, stream: str = "studio-a",
          transaction: str = "tx1", last: bool = False) -> dict[str, Any]:
    finish = start + timedelta(seconds=seconds)
    return {"transactionId": transaction, "id": "rec1", "metadata": "", "vhost": "default",
            "app": "app", "stream": stream,
            "filePath": f"app/{stream}/{transaction}_{sequence}.mp4",
            "recordBytes": 1000 + sequence, "recordTime": int(seconds * 1000),
            "sequence": sequence, "lastSequence": last, "createdTime": start.isoformat(),
            "startTime": start.isoformat(), "finishTime": finish.isoformat(),
            "size": 1000 + sequence}


def test_event_types_are_the_delivery_s() -> None:
    assert (store.FILE_FINISHED, store.FILE_UPLOADED, store.FILE_DELETED) == (
        delivery_events.FILE_FINISHED, delivery_events.FILE_UPLOADED, delivery_events.FILE_DELETED)


def test_range_lists_overlapping_files_in_order_with_gaps(catalogue_url: str) -> None:
    cat = Catalogue.open(catalogue_url)
    # 14:00:00-14:00:20, 14:00:20-14:00:40, (hole), 14:01:00-14:01:20; another stream too
    for seq, offset in ((2, 60), (0, 0), (1, 20)):
        cat.apply_event(store.FILE_FINISHED, entry(seq, T0 + timedelta(seconds=offset)))
    cat.apply_event(store.FILE_FINISHED, entry(0, T0, stream="studio-b", transaction="tx9"))
    start, end = T0 + timedelta(seconds=30), T0 + timedelta(seconds=90)
    files = files_in_range(cat, "default", "app", "studio-a", start, end)
    assert [f.sequence for f in files] == [1, 2]
    assert files[0].file_path == "app/studio-a/tx1_1.mp4" and files[0].bytes == 1001
    assert files[0].start_time == T0 + timedelta(seconds=20)
    gaps = gaps_between(files, start, end)
    assert [(g.start, g.end) for g in gaps] == [
        (T0 + timedelta(seconds=40), T0 + timedelta(seconds=60)),
        (T0 + timedelta(seconds=80), end)]
    assert files_in_range(cat, "default", "app", "studio-a", T0 - timedelta(hours=1),
                          T0 - timedelta(minutes=1)) == []
    assert files_in_range(cat, "default", "app", "nobody", start, end) == []
    cat.close()


def test_repeated_events_keep_one_row_and_upload_then_delete(catalogue_url: str) -> None:
    cat = Catalogue.open(catalogue_url)
    data = entry(0, T0)
    for _ in range(3):
        cat.apply_event(store.FILE_FINISHED, data)
    uploaded = {**data, "url": "s3://recordings/live/app/x.mp4", "etag": "e", "checksum": "c"}
    cat.apply_event(store.FILE_UPLOADED, uploaded, delete_local_after_upload=False)
    cat.apply_event(store.FILE_FINISHED, data)  # a late repeat forgets nothing
    [row] = cat.all_files()
    assert row.local and row.url == "s3://recordings/live/app/x.mp4"
    cat.apply_event(store.FILE_DELETED, data)
    [row] = cat.all_files()
    assert not row.local and row.url == "s3://recordings/live/app/x.mp4"
    assert not cat.apply_event("dev.recording-operator.recording.started", {"id": "rec1"})
    cat.close()


def test_upload_with_delete_local_ends_the_local_copy(catalogue_url: str) -> None:
    cat = Catalogue.open(catalogue_url)
    cat.apply_event(store.FILE_FINISHED, entry(0, T0))
    cat.apply_event(store.FILE_UPLOADED, {**entry(0, T0), "url": "s3://b/k"},
                    delete_local_after_upload=True)
    [row] = cat.all_files()
    assert (row.local, row.url) == (False, "s3://b/k")
    assert cat.file_by_id("default", "app", "studio-a", row.id) == row
    assert cat.file_by_id("default", "app", "studio-b", row.id) is None
    cat.close()


def test_a_bad_event_names_the_field_and_stores_nothing(catalogue_url: str) -> None:
    cat = Catalogue.open(catalogue_url)
    with pytest.raises(store.BadEvent, match=r"data\.startTime"):
        cat.apply_event(store.FILE_FINISHED, {**entry(0, T0), "startTime": "yesterday"})
    assert cat.all_files() == []
    cat.close()


def test_reopening_keeps_rows_and_migrates_once(catalogue_url: str) -> None:
    cat = Catalogue.open(catalogue_url)
    cat.apply_event(store.FILE_FINISHED, entry(0, T0))
    cat.close()
    again = Catalogue.open(catalogue_url)
    assert [f.sequence for f in again.all_files()] == [0]
    again.close()


@pytest.mark.postgres
def test_a_database_restart_is_one_unavailable_answer_then_it_reconnects() -> None:
    with PostgresServer() as server:
        cat = Catalogue.open(server.url)
        cat.apply_event(store.FILE_FINISHED, entry(0, T0))
        server.stop(keep=True)
        with pytest.raises(CatalogueUnavailable):
            files_in_range(cat, "default", "app", "studio-a", T0, T0 + timedelta(minutes=1))
        with pytest.raises(CatalogueUnavailable):
            cat.apply_event(store.FILE_FINISHED, entry(1, T0 + timedelta(seconds=20)))
        server.start()
        found = wait_for(lambda: _try(cat), 30, "the catalogue to reconnect")
        assert [f.sequence for f in found] == [0]
        cat.close()


def _try(cat: Catalogue) -> list[store.CatalogueFile] | None:
    try:
        return files_in_range(cat, "default", "app", "studio-a", T0, T0 + timedelta(minutes=1))
    except CatalogueUnavailable:
        return None
