"""The recorder-owned part of a Recording's status, without pydantic.

The recorder pod writes these fields and reads them back when it resumes; it must not pay for
pydantic (about 15 MiB and 0.2 s of start-up with the models), so its side of the contract is
plain data here. ``model.recording`` (the operator's and API's typed view of the whole status)
takes :data:`RECORDER_FIELDS` from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The status fields the recorder owns (camelCase, as in the Recording); the operator owns the
#: rest (``model.recording.OPERATOR_FIELDS``).
RECORDER_FIELDS = frozenset(
    {"recorder", "startTime", "finishTime", "outputFilePath", "outputInfoPath", "recordBytes",
     "recordTime", "totalRecordBytes", "totalRecordTime", "sequence", "files"}
)


@dataclass(frozen=True)
class FileRecord:
    """One finished file, as the recorder reports it (and as its info XML entry says)."""

    sequence: int
    file_path: str
    record_bytes: int
    record_time: int
    start_time: str
    finish_time: str
    last_sequence: bool = False

    def to_json(self) -> dict[str, Any]:
        """The camelCase dict that goes into ``status.files``."""
        return {
            "sequence": self.sequence, "filePath": self.file_path,
            "recordBytes": self.record_bytes, "recordTime": self.record_time,
            "startTime": self.start_time, "finishTime": self.finish_time,
            "lastSequence": self.last_sequence,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FileRecord | None:
        """A record from ``status.files``; None for an entry that is not one (it is dropped
        rather than stop a resume: the info file still lists that file)."""
        try:
            record = cls(
                sequence=int(body["sequence"]), file_path=str(body["filePath"]),
                record_bytes=int(body["recordBytes"]), record_time=int(body["recordTime"]),
                start_time=str(body["startTime"]), finish_time=str(body["finishTime"]),
                last_sequence=bool(body.get("lastSequence", False)),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return record
