"""A Recording resolved against the vhost/app config: everything its recorder needs, and the
recorder pod's environment that carries it.

The operator builds it and hands it to the recorder pod as JSON (env ``RECORDING_SPEC``), so
the recorder never needs the config file nor rights to read anything but its own Recording.
The environment's names and encoding are written here once: the operator writes them
(:func:`pod_env`, in ``controller.podspec``), the recorder reads them
(:meth:`RecorderEnvironment.read`, in ``cli.record_cmd``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

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


#: The resolved recording, as :meth:`ResolvedRecording.to_env` writes it.
ENV_SPEC = "RECORDING_SPEC"
#: The Recording whose status the recorder reports to.
ENV_NAMESPACE = "RECORDING_NAMESPACE"
ENV_NAME = "RECORDING_NAME"
#: The recorder pod's own uid (the downward API), stamped on every report.
ENV_POD_UID = "RECORDING_POD_UID"
#: Read by the recorder only (by hand, or in the embedded mode): where its storage is.
ENV_STORAGE_ROOT = "RECORDING_STORAGE_ROOT"
ENV_LOG_LEVEL = "RECORDING_LOG_LEVEL"


def pod_env(resolved: ResolvedRecording, namespace: str, name: str) -> list[dict[str, Any]]:
    """The recorder container's environment entries for this Recording."""
    return [
        {"name": ENV_SPEC, "value": resolved.to_env()},
        {"name": ENV_NAMESPACE, "value": namespace},
        {"name": ENV_NAME, "value": name},
        {"name": ENV_POD_UID,
         "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.uid"}}},
    ]


@dataclass(frozen=True)
class RecorderEnvironment:
    """What a recorder finds in its environment (empty values count as absent)."""

    spec: str | None = None
    namespace: str | None = None
    name: str | None = None
    pod_uid: str | None = None
    storage_root: str | None = None
    log_level: str | None = None

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> RecorderEnvironment:
        def get(key: str) -> str | None:
            return environ.get(key) or None

        return cls(
            spec=get(ENV_SPEC), namespace=get(ENV_NAMESPACE), name=get(ENV_NAME),
            pod_uid=get(ENV_POD_UID), storage_root=get(ENV_STORAGE_ROOT),
            log_level=get(ENV_LOG_LEVEL),
        )
