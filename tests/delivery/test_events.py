"""The CloudEvents we send: structured JSON the SDK reads back, with the issue's data fields,
and ids that are the same every time the same thing is described."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudevents.core.bindings.http import HTTPMessage, from_structured
from cloudevents.core.formats.json import JSONFormat

from recording_operator.delivery import events as ev

from .support import ENTRY

WHEN = datetime(2026, 1, 1, tzinfo=UTC)
DATA_KEYS = ["transactionId", "id", "metadata", "vhost", "app", "stream", "filePath",
             "recordBytes", "recordTime", "sequence", "lastSequence", "createdTime",
             "startTime", "finishTime", "size"]


def _parse(event: ev.Event):  # type: ignore[no-untyped-def]
    return from_structured(HTTPMessage({"content-type": ev.CONTENT_TYPE}, event.body),
                           JSONFormat())


def test_file_finished_is_a_structured_cloudevent_with_the_entry_as_data() -> None:
    event = ev.file_event(ev.FILE_FINISHED, ENTRY, 12, WHEN)
    parsed = _parse(event)
    assert parsed.get_specversion() == "1.0"
    assert parsed.get_type() == "dev.recording-operator.file.finished"
    assert parsed.get_id() == event.id
    assert parsed.get_subject() == "a/b.ts"
    assert parsed.get_source() == "/recording-operator/vhosts/default/apps/app"
    assert parsed.get_datacontenttype() == "application/json"
    assert parsed.get_time() == WHEN
    data = parsed.get_data()
    assert list(data) == DATA_KEYS
    assert data["size"] == 12 and data["lastSequence"] is True and data["sequence"] == 2


def test_uploaded_adds_url_etag_checksum() -> None:
    event = ev.file_event(ev.FILE_UPLOADED, ENTRY, 12, WHEN,
                          {"url": "s3://b/a/b.ts", "etag": "e", "checksum": "sha256:00"})
    assert list(_parse(event).get_data()) == [*DATA_KEYS, "url", "etag", "checksum"]


def test_ids_are_stable_and_distinct_per_type_and_file() -> None:
    first = ev.file_event(ev.FILE_FINISHED, ENTRY, 12, WHEN)
    again = ev.file_event(ev.FILE_FINISHED, ENTRY, 12, WHEN)
    assert first == again
    uploaded = ev.file_event(ev.FILE_UPLOADED, ENTRY, 12, WHEN)
    stopped = ev.recording_event(ev.RECORDING_STOPPED, vhost="default", app="app",
                                 record_id="rec", transaction_id="tx1", stream="s", time=WHEN)
    assert len({first.id, uploaded.id, stopped.id}) == 3
    assert first.ordering_key == stopped.ordering_key == "default/app/rec"


def test_failed_carries_the_reason() -> None:
    event = ev.recording_event(ev.RECORDING_FAILED, vhost="default", app="app",
                               record_id="rec", transaction_id="tx1", stream="s", time=WHEN,
                               reason="source gone")
    assert _parse(event).get_data()["reason"] == "source gone"
