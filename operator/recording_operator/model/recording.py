"""The Recording's spec and status as typed models.

The spec is what a client asked for (immutable after creation). The status has two writers,
each owning its own fields so that neither overwrites the other (both write through the status
subresource with merge patches that name only their own fields):

* the operator owns :data:`OPERATOR_FIELDS`: the task's ``state`` as clients see it, ``message``,
  ``transactionId``, ``createdTime``, ``conditions``, ``observedGeneration``, ``restarts``;
* the recorder owns :data:`RECORDER_FIELDS`: the progress figures, the finished files, and
  ``recorder`` — its own view of the state, which the operator mirrors into ``state`` unless
  the Recording is stopping or has failed for a reason the operator saw.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .recorder_status import RECORDER_FIELDS as RECORDER_FIELDS
from .resource import SegmentationRule, State


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def to_json(self) -> dict[str, Any]:
        """The camelCase dict that goes to Kubernetes, without unset/None fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StreamSpec(_Model):
    name: str
    variant_names: list[str] = Field(default_factory=list, alias="variantNames")
    track_ids: list[int] = Field(default_factory=list, alias="trackIds")


class SourceSpec(_Model):
    url: str | None = None


class RecordingSpec(_Model):
    id: str
    vhost: str = "default"
    app: str = "app"
    stream: StreamSpec
    interval: int | None = None
    schedule: str | None = None
    segmentation_rule: SegmentationRule = Field(
        default=SegmentationRule.DISCONTINUITY, alias="segmentationRule"
    )
    file_path: str | None = Field(default=None, alias="filePath")
    info_path: str | None = Field(default=None, alias="infoPath")
    metadata: str | None = None
    source: SourceSpec | None = None


class FileRecord(_Model):
    """One finished file, as the recorder reports it (and as its info XML entry says)."""

    sequence: int
    file_path: str = Field(alias="filePath")
    record_bytes: int = Field(alias="recordBytes")
    record_time: int = Field(alias="recordTime")
    start_time: str = Field(alias="startTime")
    finish_time: str = Field(alias="finishTime")
    last_sequence: bool = Field(default=False, alias="lastSequence")


class RecorderReport(_Model):
    """The recorder's own view: what it is doing, and whether it has finished for good."""

    state: State
    message: str | None = None
    #: Why the recorder waits, as one word (``StorageFull``), or None.
    reason: str | None = None
    #: True once the recorder finished its last file after SIGTERM (``lastSequence``).
    finished: bool = False
    #: The uid of the pod that wrote this report. ``finished`` speaks for that pod only: a pod
    #: drained by its node also finishes, and its replacement must not look finished.
    pod_uid: str | None = Field(default=None, alias="podUID")
    updated_time: str | None = Field(default=None, alias="updatedTime")


class Condition(_Model):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = Field(default=None, alias="lastTransitionTime")


class RecordingStatus(_Model):
    # operator-owned
    state: State | None = None
    message: str | None = None
    transaction_id: str | None = Field(default=None, alias="transactionId")
    created_time: str | None = Field(default=None, alias="createdTime")
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = Field(default=None, alias="observedGeneration")
    restarts: int | None = None
    # recorder-owned
    recorder: RecorderReport | None = None
    start_time: str | None = Field(default=None, alias="startTime")
    finish_time: str | None = Field(default=None, alias="finishTime")
    output_file_path: str | None = Field(default=None, alias="outputFilePath")
    output_info_path: str | None = Field(default=None, alias="outputInfoPath")
    record_bytes: int | None = Field(default=None, alias="recordBytes")
    record_time: int | None = Field(default=None, alias="recordTime")
    total_record_bytes: int | None = Field(default=None, alias="totalRecordBytes")
    total_record_time: int | None = Field(default=None, alias="totalRecordTime")
    sequence: int | None = None
    files: list[FileRecord] = Field(default_factory=list)


#: RECORDER_FIELDS (the recorder's) is defined in model.recorder_status, which the recorder pod
#: loads without pydantic.
OPERATOR_FIELDS = frozenset(
    {"state", "message", "transactionId", "createdTime", "conditions", "observedGeneration",
     "restarts"}
)


def parse_spec(body: dict[str, Any]) -> RecordingSpec:
    return RecordingSpec.model_validate(body.get("spec") or {})


def parse_status(body: dict[str, Any]) -> RecordingStatus:
    return RecordingStatus.model_validate(body.get("status") or {})
