"""StreamMap rules: OvenMediaEngine's automatic recording (``record_map.xml``), per app.

A rule names the streams it records (``streamName``, OME's wildcard: ``*`` matches any run of
characters and the pattern must match the whole name) and how (the startRecord fields). When a
matching stream is published, the API makes one Recording per matching rule; when it ends, the
API deletes them. Rules come from the config (``streamMap``) or, unchanged, from an OME
``record_map.xml`` (``streamMapFile``); both are checked when the config loads, so a bad rule
stops the process at start-up instead of failing a publish later.

Pure: no Kubernetes, no HTTP. The API turns a rule into a Recording with :meth:`StreamMapRule.spec`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .recording import RecordingSpec, StreamSpec
from .resource import SegmentationRule
from .rules import MIN_INTERVAL, checked_path, is_valid_schedule

#: OME replaces this in ``StreamName`` by the input stream's name. We record the published
#: (input) stream itself, so it stands for the name being matched.
SOURCE_STREAM = "${SourceStream}"
#: OME's ids of rule tasks: 16 random letters and digits.
RULE_ID_LENGTH = 16
_ID_ALPHABET = string.ascii_letters + string.digits
#: OME's interval is an int32 of milliseconds.
_MAX_INTERVAL = 2**31 - 1

#: ``record_map.xml`` element → rule field. Anything else in a ``<Record>`` is refused, so a
#: misspelt element is reported at start-up instead of silently changing what is recorded.
_XML_FIELDS = {
    "StreamName": "streamName",
    "VariantNames": "variantNames",
    "FilePath": "filePath",
    "InfoPath": "infoPath",
    "SegmentInterval": "interval",
    "SegmentSchedule": "schedule",
    "SegmentRule": "segmentationRule",
    "Metadata": "metadata",
}


class StreamMapError(ValueError):
    """A rule or a ``record_map.xml`` is malformed; the message says where."""


def new_rule_id() -> str:
    """A rule task's id, as OME makes them: 16 random letters and digits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(RULE_ID_LENGTH))


class StreamMapRule(BaseModel):
    """One rule: the fields of OME's ``<Record>`` under the startRecord names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    stream_name: str = Field(alias="streamName", min_length=1, max_length=253)
    variant_names: list[str] = Field(default_factory=list, alias="variantNames", max_length=64)
    file_path: str | None = Field(default=None, alias="filePath", max_length=1024)
    info_path: str | None = Field(default=None, alias="infoPath", max_length=1024)
    interval: int | None = Field(default=None, ge=0, le=_MAX_INTERVAL)
    schedule: str | None = None
    segmentation_rule: SegmentationRule | None = Field(default=None, alias="segmentationRule")
    metadata: str | None = Field(default=None, max_length=4096)

    @field_validator("file_path", "info_path")
    @classmethod
    def _path(cls, value: str | None, info: Any) -> str | None:
        return None if value is None else checked_path(value, info.field_name)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_schedule(value):
            raise ValueError(f"{value!r} is not 'second minute hour' (e.g. '0 */5 *')")
        return value

    @field_validator("interval")
    @classmethod
    def _long_enough(cls, value: int | None) -> int | None:
        if value and value < MIN_INTERVAL:
            raise ValueError(f"must be 0 (no split) or at least {MIN_INTERVAL} milliseconds")
        return value

    @model_validator(mode="after")
    def _one_split(self) -> StreamMapRule:
        if self.interval and self.schedule:
            raise ValueError("interval and schedule cannot be used at the same time")
        return self

    def matches(self, stream: str) -> bool:
        """Whether a published stream of this name is recorded by this rule."""
        pattern = self.stream_name.replace(SOURCE_STREAM, stream)
        regex = ".*".join(re.escape(part) for part in pattern.split("*"))
        return re.fullmatch(regex, stream, flags=re.DOTALL) is not None

    @property
    def key(self) -> str:
        """A short digest of the rule: the same rule keeps its key across restarts and
        replicas, so its tasks can be told from another rule's (and deduplicated by name)."""
        content = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()[:12]

    def spec(self, vhost: str, app: str, stream: str, record_id: str) -> RecordingSpec:
        """The Recording spec of this rule's task for ``stream`` (the startRecord shape)."""
        return RecordingSpec(
            id=record_id,
            vhost=vhost,
            app=app,
            stream=StreamSpec(name=stream, variant_names=list(self.variant_names)),
            segmentation_rule=self.segmentation_rule or SegmentationRule.DISCONTINUITY,
            interval=self.interval or None,
            schedule=self.schedule or None,
            file_path=self.file_path or None,
            info_path=self.info_path or None,
            metadata=self.metadata or None,
        )


def _text(element: ET.Element) -> str:
    """An element's text with OME's line breaks undone: its documentation wraps long paths
    over several indented lines, which are one value."""
    return "".join(line.strip() for line in (element.text or "").splitlines())


def _record(element: ET.Element, where: str) -> StreamMapRule | None:
    """One ``<Record>``: its rule, or None when it is not enabled."""
    values: dict[str, Any] = {}
    enabled: bool | None = None
    for child in element:
        if not isinstance(child.tag, str):  # a comment or processing instruction
            continue
        text = _text(child)
        if child.tag == "Enable":
            if text.lower() not in ("true", "false"):
                raise StreamMapError(f"{where}.Enable: must be true or false, not {text!r}")
            enabled = text.lower() == "true"
        elif child.tag in _XML_FIELDS:
            if child.tag in ("SegmentInterval",) and text:
                if not text.isdigit():
                    raise StreamMapError(f"{where}.SegmentInterval: {text!r} is not milliseconds")
                values[_XML_FIELDS[child.tag]] = int(text)
            elif child.tag == "VariantNames":
                values["variantNames"] = [v.strip() for v in text.split(",") if v.strip()]
            elif text:
                values[_XML_FIELDS[child.tag]] = text
        else:
            raise StreamMapError(f"{where}: unknown element <{child.tag}>")
    if enabled is None:
        raise StreamMapError(f"{where}: <Enable> is required (true or false)")
    if not enabled:
        return None
    if "streamName" not in values:
        raise StreamMapError(f"{where}: <StreamName> is required")
    try:
        return StreamMapRule.model_validate(values)
    except ValidationError as exc:
        raise StreamMapError(f"{where}: {_describe(exc)}") from None


def _describe(error: ValidationError) -> str:
    names = {field: tag for tag, field in _XML_FIELDS.items()}
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        label = names.get(field, field) or "(record)"
        problems.append(f"{label}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def parse_record_map(text: str, origin: str = "record_map.xml") -> list[StreamMapRule]:
    """The enabled rules of an OME ``record_map.xml`` (``<RecordInfo><Record>…``)."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - the operator's own config file
    except ET.ParseError as exc:
        raise StreamMapError(f"{origin}: not well-formed XML: {exc}") from None
    if root.tag != "RecordInfo":
        raise StreamMapError(f"{origin}: the root element must be <RecordInfo>, not <{root.tag}>")
    rules = []
    for index, element in enumerate(root, start=1):
        if not isinstance(element.tag, str):
            continue
        if element.tag != "Record":
            raise StreamMapError(f"{origin}: unknown element <{element.tag}> in <RecordInfo>")
        rule = _record(element, f"{origin}: Record[{index}]")
        if rule is not None:
            rules.append(rule)
    return rules


def load_record_map(path: str | Path) -> list[StreamMapRule]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StreamMapError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise StreamMapError(f"{path} is not UTF-8 text") from None
    return parse_record_map(text, str(path))


def matching(rules: list[StreamMapRule], stream: str) -> list[StreamMapRule]:
    """The rules that record ``stream``, each once (a rule given twice makes one task)."""
    seen: set[str] = set()
    found = []
    for rule in rules:
        if rule.matches(stream) and rule.key not in seen:
            seen.add(rule.key)
            found.append(rule)
    return found
