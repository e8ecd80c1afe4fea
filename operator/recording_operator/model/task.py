"""The OvenMediaEngine task object: how a Recording looks to an OME API client.

One pure function of the Recording (metadata + spec + status) so that startRecord, stopRecord
and records answer with exactly the same shape, and so the presence rules of the spec's "task
object" section live in one place:

* an empty string field is left out; ``isConfig``, ``stream`` (with both lists),
  ``segmentationRule`` and ``createdTime`` are always there;
* ``interval`` only when > 0;
* the progress figures (``recordBytes``, ``recordTime``, ``totalRecordBytes``,
  ``totalRecordTime``, ``sequence``) each only when > 0, and with ``startTime`` only once the
  task has started (states recording/stopping/stopped/error); ``finishTime`` only in
  stopped/error.

It reads plain dicts rather than the pydantic models: records renders up to thousands of tasks
per call and the CRD's structural schema already guarantees the types, so only absent or
out-of-range values need care here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .resource import ANNOTATION_CREATED_TIME, LABEL_RULE, SegmentationRule, State
from .timefmt import format_time, parse_time

#: States in which the task has (or had) a recorder running: progress figures are shown.
_STARTED = frozenset({State.RECORDING, State.STOPPING, State.STOPPED, State.ERROR})
#: States in which the last file is finished: finishTime is shown.
_FINISHED = frozenset({State.STOPPED, State.ERROR})
_STATES = frozenset(state.value for state in State)
_RULES = frozenset(rule.value for rule in SegmentationRule)
_FIGURES = ("recordBytes", "recordTime", "totalRecordBytes", "totalRecordTime", "sequence")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _positive(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _timestamp(value: Any) -> str | None:
    """A timestamp re-written in the OME format, or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return format_time(parse_time(value))
    except ValueError:
        return None


def created_time(recording: Mapping[str, Any]) -> str:
    """When the task was created, in the OME format.

    The operator's ``status.createdTime`` wins; before the operator has seen the Recording, the
    API's creation annotation (milliseconds); for a kubectl-made one, the creation timestamp.
    The operator calls this to fill ``status.createdTime``, so the value never changes.
    """
    status = _mapping(recording.get("status"))
    metadata = _mapping(recording.get("metadata"))
    annotations = _mapping(metadata.get("annotations"))
    for candidate in (
        status.get("createdTime"),
        annotations.get(ANNOTATION_CREATED_TIME),
        metadata.get("creationTimestamp"),
    ):
        formatted = _timestamp(candidate)
        if formatted:
            return formatted
    # Only a Recording that was never stored lacks all three (e.g. a dry run): now is the truth.
    return format_time(datetime.now(UTC))


def task_state(recording: Mapping[str, Any]) -> State:
    """The state a client sees: ``stopping`` once deletion began, ``ready`` before the operator
    has written one."""
    if _mapping(recording.get("metadata")).get("deletionTimestamp"):
        return State.STOPPING
    state = _mapping(recording.get("status")).get("state")
    return State(state) if state in _STATES else State.READY


def _stream(spec: Mapping[str, Any]) -> dict[str, Any]:
    stream = _mapping(spec.get("stream"))
    track_ids = stream.get("trackIds")
    variant_names = stream.get("variantNames")
    return {
        "name": stream.get("name") if isinstance(stream.get("name"), str) else "",
        "trackIds": list(track_ids) if isinstance(track_ids, list) else [],
        "variantNames": list(variant_names) if isinstance(variant_names, list) else [],
    }


def task_view(recording: Mapping[str, Any], *, state: State | None = None) -> dict[str, Any]:
    """The task object of a Recording (a dict as the Kubernetes API returns it).

    ``state`` overrides the state, for stopRecord's "the task as it was, state stopping".
    """
    spec = _mapping(recording.get("spec"))
    status = _mapping(recording.get("status"))
    shown = state or task_state(recording)

    task: dict[str, Any] = {"id": spec.get("id") if isinstance(spec.get("id"), str) else ""}
    task["state"] = shown.value
    # OME's isConfig: the task was made by a StreamMap rule, not by startRecord
    labels = _mapping(_mapping(recording.get("metadata")).get("labels"))
    task["isConfig"] = LABEL_RULE in labels
    optional_text: list[tuple[str, Any]] = [
        ("metadata", spec.get("metadata")),
        ("vhost", spec.get("vhost", "default")),
        ("app", spec.get("app", "app")),
    ]
    for key, value in optional_text:
        if _text(value):
            task[key] = value
    task["stream"] = _stream(spec)
    for key, value in (
        ("filePath", spec.get("filePath")),
        ("infoPath", spec.get("infoPath")),
        ("outputFilePath", status.get("outputFilePath")),
        ("outputInfoPath", status.get("outputInfoPath")),
    ):
        if _text(value):
            task[key] = value
    interval = _positive(spec.get("interval"))
    if interval:
        task["interval"] = interval
    if _text(spec.get("schedule")):
        task["schedule"] = spec["schedule"]
    rule = spec.get("segmentationRule")
    task["segmentationRule"] = rule if rule in _RULES else SegmentationRule.DISCONTINUITY.value
    task["createdTime"] = created_time(recording)
    if shown in _STARTED:
        for key in _FIGURES:
            figure = _positive(status.get(key))
            if figure:
                task[key] = figure
        start = _timestamp(status.get("startTime"))
        if start:
            task["startTime"] = start
        if shown in _FINISHED:
            finish = _timestamp(status.get("finishTime"))
            if finish:
                task["finishTime"] = finish
    return task
