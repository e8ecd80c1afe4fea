"""A Recording resolved against the vhost/app config: everything its recorder needs, and the
recorder pod's environment that carries it.

The operator builds it and hands it to the recorder pod as JSON (env ``RECORDING_SPEC``), so
the recorder never needs the config file nor rights to read anything but its own Recording.
The environment's names and encoding are written here once: the operator writes them
(:func:`pod_env`, in ``controller.podspec``), the recorder reads them
(:meth:`RecorderEnvironment.read`, in ``cli.record_cmd``).

Plain dataclasses, not pydantic: this is the one model the recorder pod loads, and pydantic
with its models is about 15 MiB and 0.2 s of start-up there. The operator has validated the
Recording before resolving it, so :meth:`ResolvedRecording.from_env` only checks shapes and
types, enough to refuse a hand-written spec with a clear message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from .resource import STORAGE_ROOT, SegmentationRule


class SpecError(ValueError):
    """The resolved recording's JSON is not usable; the message names each problem."""


@dataclass(frozen=True)
class TrackSelector:
    """Selects source tracks: by stream index, or the ``index``-th (or every) track of a kind."""

    track_id: int | None = None
    media: Literal["video", "audio"] | None = None
    index: int | None = None


@dataclass(frozen=True)
class RecordingRef:
    namespace: str
    name: str


@dataclass(frozen=True)
class ResolvedRecording:
    recording: RecordingRef
    id: str
    vhost: str
    app: str
    stream: str
    transaction_id: str
    source_url: str
    file_path: str
    info_path: str
    #: Empty: record every track.
    tracks: list[TrackSelector] = field(default_factory=list)
    interval_ms: int | None = None
    schedule: str | None = None
    timezone: str = "UTC"
    segmentation_rule: SegmentationRule = SegmentationRule.DISCONTINUITY
    storage_root: str = STORAGE_ROOT
    metadata: str | None = None
    created_time: str | None = None

    def to_env(self) -> str:
        """The JSON the pod gets: camelCase keys, None values left out."""
        body: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "recording":
                value = {"namespace": value.namespace, "name": value.name}
            elif f.name == "tracks":
                value = [_drop_none({_camel(k.name): getattr(t, k.name) for k in fields(t)})
                         for t in value]
            body[_camel(f.name)] = value
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_env(cls, text: str) -> ResolvedRecording:
        """Parses :meth:`to_env`'s JSON; raises :class:`SpecError` (or a ``ValueError`` for
        JSON that does not parse)."""
        body = json.loads(text)
        problems: list[str] = []
        if not isinstance(body, dict):
            raise SpecError("(top level): must be an object")
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = _camel(f.name)
            if key not in body or body[key] is None:
                if key in _REQUIRED:
                    problems.append(f"{key}: field required")
                continue
            value = body[key]
            try:
                values[f.name] = _PARSERS.get(f.name, _text)(value)
            except (TypeError, ValueError) as exc:
                problems.append(f"{key}: {exc}")
        if problems:
            raise SpecError("; ".join(problems))
        return cls(**values)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("must be a string")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("must be an integer")
    return value


def _optional_integer(value: Any) -> int | None:
    return None if value is None else _integer(value)


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("must be an object")
    return value


def _ref(value: Any) -> RecordingRef:
    body = _object(value)
    try:
        return RecordingRef(namespace=_text(body.get("namespace")), name=_text(body.get("name")))
    except TypeError:
        raise TypeError("namespace and name must be strings") from None


def _selector(value: Any) -> TrackSelector:
    body = _object(value)
    media = body.get("media")
    if media not in (None, "video", "audio"):
        raise ValueError(f"media must be 'video' or 'audio' (got {media!r})")
    return TrackSelector(track_id=_optional_integer(body.get("trackId")), media=media,
                         index=_optional_integer(body.get("index")))


def _selectors(value: Any) -> list[TrackSelector]:
    if not isinstance(value, list):
        raise TypeError("must be a list")
    return [_selector(item) for item in value]


def _rule(value: Any) -> SegmentationRule:
    try:
        return SegmentationRule(_text(value))
    except ValueError:
        choices = ", ".join(repr(r.value) for r in SegmentationRule)
        raise ValueError(f"must be one of {choices} (got {value!r})") from None


_PARSERS: dict[str, Any] = {
    "recording": _ref, "tracks": _selectors, "interval_ms": _integer,
    "segmentation_rule": _rule,
}
_REQUIRED = frozenset(
    {"recording", "id", "vhost", "app", "stream", "transactionId", "sourceUrl", "filePath",
     "infoPath"}
)


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
#: Seconds between progress-only status reports (``model.reporting``: the operator shares out
#: its status-write budget); absent: the reporter's floor.
ENV_REPORT_INTERVAL = "RECORDING_REPORT_INTERVAL"


def pod_env(resolved: ResolvedRecording, namespace: str, name: str,
            report_interval: float | None = None) -> list[dict[str, Any]]:
    """The recorder container's environment entries for this Recording."""
    env: list[dict[str, Any]] = [
        {"name": ENV_SPEC, "value": resolved.to_env()},
        {"name": ENV_NAMESPACE, "value": namespace},
        {"name": ENV_NAME, "value": name},
        {"name": ENV_POD_UID,
         "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.uid"}}},
    ]
    if report_interval is not None:
        env.append({"name": ENV_REPORT_INTERVAL, "value": f"{report_interval:g}"})
    return env


@dataclass(frozen=True)
class RecorderEnvironment:
    """What a recorder finds in its environment (empty values count as absent)."""

    spec: str | None = None
    namespace: str | None = None
    name: str | None = None
    pod_uid: str | None = None
    storage_root: str | None = None
    log_level: str | None = None
    #: Seconds; None when absent. A value that is not a positive number is a SpecError.
    report_interval: float | None = None

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> RecorderEnvironment:
        def get(key: str) -> str | None:
            return environ.get(key) or None

        return cls(
            spec=get(ENV_SPEC), namespace=get(ENV_NAMESPACE), name=get(ENV_NAME),
            pod_uid=get(ENV_POD_UID), storage_root=get(ENV_STORAGE_ROOT),
            log_level=get(ENV_LOG_LEVEL),
            report_interval=_seconds(ENV_REPORT_INTERVAL, get(ENV_REPORT_INTERVAL)),
        )


def _seconds(key: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise SpecError(f"{key} must be a positive number of seconds (got {text!r})")
    return value
