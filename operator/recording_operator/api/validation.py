"""The checks of the request bodies, in the spec's order, with its exact messages.

Pure functions of the parsed body and the config, so every rule can be unit-tested and the
routes stay a few lines each. A startRecord body becomes a Recording spec only here; anything
the CRD's schema would refuse is refused first with a 400 naming the field, so the Kubernetes
API never has to reject a client's input.
"""

from __future__ import annotations

from typing import Any

from ..model.config import AppConfig, Config, NotConfigured
from ..model.recording import RecordingSpec, StreamSpec
from ..model.resource import SegmentationRule
from ..model.rules import (
    FILE_EXTENSIONS,
    INFO_EXTENSIONS,
    MAX_ID_LENGTH,
    MIN_INTERVAL,
    control_problem,
    is_valid_schedule,
    path_problem,
)
from .errors import ApiError

#: Limits of the CRD's schema (crds/recording.yaml); a test keeps the two in step.
MAX_NAME_LENGTH = 253
MAX_LIST_ITEMS = 64
MAX_PATH_LENGTH = 1024
MAX_METADATA_LENGTH = 4096
#: OME's interval is an int32 of milliseconds.
MAX_INTERVAL = 2**31 - 1

DUPLICATE = "Duplicate ID already exists"
BOTH_SPLITS = "[Interval] and [Schedule] cannot be used at the same time"
INVALID_SCHEDULE = "Invalid [schedule] parameter"
_RULES = tuple(rule.value for rule in SegmentationRule)


def missing(parts: list[str]) -> ApiError:
    return ApiError(400, "There is no required parameter [" + "".join(f" {p}" for p in parts) + "]")


def invalid(field: str, why: str) -> ApiError:
    return ApiError(400, f"Invalid [{field}] parameter: {why}")


def too_many_tasks(vhost: str, app: str, limit: int) -> ApiError:
    """409, the status of OME's startRecord for "not now, because of the tasks there are"."""
    return ApiError(
        409, f"The application [{vhost}/{app}] already has its maximum of {limit} recording "
        "tasks (maxTasks): stop one first")


def check_task_limit(app_cfg: AppConfig, vhost: str, app: str, existing: int) -> None:
    """Refuses a new task when the app already has ``maxTasks`` of them."""
    if app_cfg.max_tasks is not None and existing >= app_cfg.max_tasks:
        raise too_many_tasks(vhost, app, app_cfg.max_tasks)


def no_record(record_id: str) -> ApiError:
    return ApiError(404, f"There is no record information related to the ID [{record_id}]")


def app_config(config: Config, vhost: str, app: str) -> AppConfig:
    try:
        return config.lookup(vhost, app)
    except NotConfigured as exc:
        raise ApiError(404, str(exc)) from None


# -- check 4: types (null is the same as absent) ------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(
    body: dict[str, Any], key: str, field: str, max_length: int | None = None, *,
    text: bool = False,
) -> str | None:
    """A string field; control characters are refused (``text``: but tabs and line breaks)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    if max_length is not None and len(value) > max_length:
        raise invalid(field, f"must be at most {max_length} characters")
    problem = control_problem(value, text=text)
    if problem:
        raise invalid(field, problem)
    return value


def _strings(body: dict[str, Any], key: str, field: str) -> list[str]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid(field, "must be an array of strings")
    if len(value) > MAX_LIST_ITEMS:
        raise invalid(field, f"must have at most {MAX_LIST_ITEMS} items")
    if any(len(item) > MAX_NAME_LENGTH for item in value):
        raise invalid(field, f"items must be at most {MAX_NAME_LENGTH} characters")
    return list(value)


def _track_ids(body: dict[str, Any], key: str, field: str) -> list[int]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(_is_int(item) for item in value):
        raise invalid(field, "must be an array of integers")
    if len(value) > MAX_LIST_ITEMS:
        raise invalid(field, f"must have at most {MAX_LIST_ITEMS} items")
    if any(not 0 <= item <= MAX_INTERVAL for item in value):
        raise invalid(field, f"items must be between 0 and {MAX_INTERVAL}")
    return list(value)


def _object(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(key, "must be an object")
    return value


def _interval(body: dict[str, Any]) -> int:
    value = body.get("interval")
    if value is None:
        return 0
    if not _is_int(value):
        raise invalid("interval", "must be an integer (milliseconds)")
    if value > MAX_INTERVAL:
        raise invalid("interval", f"must be at most {MAX_INTERVAL}")
    return int(value)


def record_id(body: dict[str, Any]) -> str | None:
    """The ``id`` of any of the three bodies (an empty id counts as none)."""
    return _string(body, "id", "id", MAX_ID_LENGTH) or None


# -- stopRecord and records -----------------------------------------------------------------


def stop_record_id(body: dict[str, Any]) -> str:
    rid = record_id(body)
    if rid is None:
        raise missing(["id"])
    return rid


def records_filter(body: dict[str, Any]) -> str | None:
    """The id to filter on; None lists everything (an absent or empty id)."""
    return record_id(body)


# -- startRecord ----------------------------------------------------------------------------


def start_record_spec(
    body: dict[str, Any], vhost: str, app: str, app_cfg: AppConfig
) -> RecordingSpec:
    """The Recording spec for a startRecord body, or the first failing check's ApiError."""
    # check 4 (types) for every field before the startRecord checks 1-6
    rid = record_id(body)
    stream = _object(body, "stream") or {}
    name = _string(stream, "name", "stream.name", MAX_NAME_LENGTH) or None
    variant_names = _strings(stream, "variantNames", "stream.variantNames")
    track_ids = _track_ids(stream, "trackIds", "stream.trackIds")
    if not track_ids:
        track_ids = _track_ids(stream, "tracks", "stream.tracks")
    interval = _interval(body)
    # schedule and segmentationRule need no length cap: checks 3 and 4 admit short values only
    schedule = _string(body, "schedule", "schedule") or None
    rule = _string(body, "segmentationRule", "segmentationRule") or None
    file_path = _string(body, "filePath", "filePath", MAX_PATH_LENGTH) or None
    info_path = _string(body, "infoPath", "infoPath", MAX_PATH_LENGTH) or None
    metadata = _string(body, "metadata", "metadata", MAX_METADATA_LENGTH, text=True) or None

    # 1. required parameters
    absent = [label for label, value in (("id", rid), ("stream.name", name)) if value is None]
    if absent or rid is None or name is None:
        raise missing(absent)
    # 2. interval and schedule are exclusive
    if interval > 0 and schedule is not None:
        raise ApiError(400, BOTH_SPLITS)
    # 2b. an interval splits into files of at least a second (OME ignores the rest: we refuse)
    if interval != 0 and interval < MIN_INTERVAL:
        raise invalid("interval", f"must be 0 (no split) or at least {MIN_INTERVAL} milliseconds")
    # 3. schedule syntax
    if schedule is not None and not is_valid_schedule(schedule):
        raise ApiError(400, INVALID_SCHEDULE)
    # 4. segmentationRule
    if rule is not None and rule not in _RULES:
        raise invalid("segmentationRule", "must be continuity or discontinuity")
    # 5. variant names the app defines
    for variant in variant_names:
        if variant not in app_cfg.variants:
            raise invalid(
                "stream.variantNames", f"[{variant}] is not a variant of [{vhost}/{app}]"
            )
    # 6. paths stay inside the storage root, with the right extension
    for field, template, extensions in (
        ("filePath", file_path, FILE_EXTENSIONS),
        ("infoPath", info_path, INFO_EXTENSIONS),
    ):
        if template is not None:
            problem = path_problem(template, extensions)
            if problem:
                raise invalid(field, problem)

    return RecordingSpec(
        id=rid,
        vhost=vhost,
        app=app,
        stream=StreamSpec(name=name, variant_names=variant_names, track_ids=track_ids),
        segmentation_rule=SegmentationRule(rule or SegmentationRule.DISCONTINUITY),
        interval=interval if interval > 0 else None,
        schedule=schedule,
        file_path=file_path,
        info_path=info_path,
        metadata=metadata,
    )
