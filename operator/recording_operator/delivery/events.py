"""The CloudEvents 1.0 we send (structured JSON), built with the CloudEvents SDK.

Each event's id is derived from what it is about (type, vhost, app, transaction, sequence), so a
process that finds the same finished file again after a crash makes the same id, and the
journal's uniqueness keeps one copy. The body is made once and stored; every retry sends it
byte for byte. ``data`` is the info XML entry as JSON (plus ``size``), exactly the fields issue 13
names, because the future recordings catalogue is fed by these same events.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from ..recorder.infofile import InfoEntry

PREFIX = "dev.recording-operator."
RECORDING_STARTED = PREFIX + "recording.started"
FILE_FINISHED = PREFIX + "file.finished"
FILE_UPLOADED = PREFIX + "file.uploaded"
FILE_DELETED = PREFIX + "file.deleted"
RECORDING_STOPPED = PREFIX + "recording.stopped"
RECORDING_FAILED = PREFIX + "recording.failed"
CONTENT_TYPE = JSONFormat.CONTENT_TYPE

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "recording-operator.dev")
_FORMAT = JSONFormat()


@dataclass(frozen=True)
class Event:
    """One event, ready to store: its id, what orders it, and the exact body to send."""

    id: str
    type: str
    #: Events with the same key are delivered in order (one Recording: vhost/app/id).
    ordering_key: str
    body: bytes


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def entry_data(entry: InfoEntry, size: int) -> dict[str, Any]:
    """The info XML entry as JSON, in the XML's order, plus the file's size in bytes."""
    data = {_camel(k): v for k, v in asdict(entry).items()}
    data["size"] = size
    return data


def ordering_key(vhost: str, app: str, record_id: str) -> str:
    return f"{vhost}/{app}/{record_id}"


def source(vhost: str, app: str) -> str:
    return f"/recording-operator/vhosts/{vhost}/apps/{app}"


def _build(kind: str, vhost: str, app: str, record_id: str, about: str, subject: str,
           data: dict[str, Any], time: datetime) -> Event:
    event_id = str(uuid.uuid5(_ID_NAMESPACE, f"{kind}/{vhost}/{app}/{about}"))
    event = CloudEvent(
        {"id": event_id, "source": source(vhost, app), "type": kind, "subject": subject,
         "time": time.astimezone(UTC), "datacontenttype": "application/json"},
        data,
    )
    return Event(event_id, kind, ordering_key(vhost, app, record_id), _FORMAT.write(event))


def file_event(kind: str, entry: InfoEntry, size: int, time: datetime,
               extra: dict[str, Any] | None = None) -> Event:
    """``file.finished``, ``file.uploaded`` (extra: url, etag, checksum) or ``file.deleted``."""
    data = {**entry_data(entry, size), **(extra or {})}
    return _build(kind, entry.vhost, entry.app, entry.id,
                  f"{entry.transaction_id}/{entry.sequence}", entry.file_path, data, time)


def recording_event(kind: str, *, vhost: str, app: str, record_id: str, transaction_id: str,
                    stream: str, time: datetime, reason: str | None = None) -> Event:
    """``recording.started``, ``recording.stopped`` or ``recording.failed`` (with the reason)."""
    data: dict[str, Any] = {"transactionId": transaction_id, "id": record_id, "vhost": vhost,
                            "app": app, "stream": stream}
    if reason is not None:
        data["reason"] = reason
    return _build(kind, vhost, app, record_id, transaction_id, record_id, data, time)
