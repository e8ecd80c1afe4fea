"""A Recording resolved against the vhost/app config: everything its recorder needs.

The operator builds it and hands it to the recorder pod as JSON (env ``RECORDING_SPEC``), so
the recorder never needs the config file nor rights to read anything but its own Recording.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .resource import STORAGE_ROOT, SegmentationRule


class TrackSelector(BaseModel):
    """Selects source tracks: by stream index, or the ``index``-th (or every) track of a kind."""

    model_config = ConfigDict(populate_by_name=True)

    track_id: int | None = Field(default=None, alias="trackId")
    media: Literal["video", "audio"] | None = None
    index: int | None = None


class RecordingRef(BaseModel):
    namespace: str
    name: str


class ResolvedRecording(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    recording: RecordingRef
    id: str
    vhost: str
    app: str
    stream: str
    transaction_id: str = Field(alias="transactionId")
    source_url: str = Field(alias="sourceUrl")
    #: Empty: record every track.
    tracks: list[TrackSelector] = Field(default_factory=list)
    interval_ms: int | None = Field(default=None, alias="intervalMs")
    schedule: str | None = None
    timezone: str = "UTC"
    segmentation_rule: SegmentationRule = Field(
        default=SegmentationRule.DISCONTINUITY, alias="segmentationRule"
    )
    file_path: str = Field(alias="filePath")
    info_path: str = Field(alias="infoPath")
    storage_root: str = Field(default=STORAGE_ROOT, alias="storageRoot")
    metadata: str | None = None
    created_time: str | None = Field(default=None, alias="createdTime")

    def to_env(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def from_env(cls, text: str) -> ResolvedRecording:
        return cls.model_validate_json(text)
