"""The vhost/app configuration: which vhosts and apps exist and how each one records.

Loaded once at start-up by the API, the operator and the embedded mode (from the chart's
ConfigMap in a cluster). A malformed file must stop the process with a message that names the
bad key, so validation errors are rewritten into ``<dotted.path>: <problem>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .delivery import EventReceiverConfig, RetentionConfig, UploadConfig
from .resource import LABEL_VALUE
from .rules import checked_path
from .streammap import StreamMapError, StreamMapRule, load_record_map

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

DEFAULT_FILE_PATH = (
    "${TransactionId}_${VirtualHost}_${Application}_${Stream}"
    "_${StartTime:YYYYMMDDhhmmss}_${EndTime:YYYYMMDDhhmmss}.ts"
)
DEFAULT_INFO_PATH = "${TransactionId}_${VirtualHost}_${Application}_${Stream}.xml"


class ConfigError(ValueError):
    """The configuration file is malformed; the message names the bad key."""


class NotConfigured(LookupError):
    """A vhost or app the config does not have; the message is OME's."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class VariantConfig(_Strict):
    """What a variant name selects among the source's tracks.

    ``media`` picks tracks by kind (the ``index``-th one of that kind, or all of that kind when
    ``index`` is absent); ``trackIds`` picks source stream indexes directly.
    """

    media: Literal["video", "audio"] | None = None
    index: int | None = Field(default=None, ge=0)
    track_ids: list[int] = Field(default_factory=list, alias="trackIds")

    @model_validator(mode="after")
    def _selects_something(self) -> VariantConfig:
        if self.media is None and not self.track_ids:
            raise ValueError("a variant needs 'media' or 'trackIds'")
        return self


class StorageConfig(_Strict):
    """A Kubernetes volume source mounted at the storage root of recorder pods."""

    volume: dict[str, Any] = Field(default_factory=lambda: {"emptyDir": {}})
    sub_path: str | None = Field(default=None, alias="subPath")

    @field_validator("volume")
    @classmethod
    def _one_source(cls, volume: dict[str, Any]) -> dict[str, Any]:
        if len(volume) != 1:
            raise ValueError("must name exactly one volume source, e.g. persistentVolumeClaim")
        return volume


class AppConfig(_Strict):
    namespace: str | None = None
    #: The source URL template: {vhost}, {app} and {stream} are filled in.
    source: str
    storage: StorageConfig = Field(default_factory=StorageConfig)
    file_path: str = Field(default=DEFAULT_FILE_PATH, alias="filePath")
    info_path: str = Field(default=DEFAULT_INFO_PATH, alias="infoPath")
    variants: dict[str, VariantConfig] = Field(default_factory=dict)
    #: At most this many tasks at once in this app (None: no limit); startRecord answers 409.
    max_tasks: int | None = Field(default=None, ge=1, alias="maxTasks")
    #: After the file closes (issue 13): see ``model.delivery``; only the delivery process acts.
    upload: UploadConfig | None = None
    events: list[EventReceiverConfig] = Field(default_factory=list)
    retention: RetentionConfig | None = None
    #: Record-on-publish rules (OME's StreamMap), and/or an OME record_map.xml: rules add up.
    stream_map: list[StreamMapRule] = Field(default_factory=list, alias="streamMap")
    stream_map_file: str | None = Field(default=None, alias="streamMapFile")
    _file_rules: list[StreamMapRule] = PrivateAttr(default_factory=list)

    @property
    def rules(self) -> list[StreamMapRule]:
        """Every StreamMap rule of the app: ``streamMap`` first, then ``streamMapFile``'s."""
        return [*self.stream_map, *self._file_rules]

    @model_validator(mode="after")
    def _stream_map(self) -> AppConfig:
        if self.stream_map_file:
            try:
                self._file_rules = load_record_map(self.stream_map_file)
            except StreamMapError as exc:
                raise ValueError(f"streamMapFile: {exc}") from None
        for rule in self.rules:
            for variant in rule.variant_names:
                if variant not in self.variants:
                    raise ValueError(
                        f"streamMap: rule {rule.stream_name!r} names variant {variant!r}, "
                        "which the app's 'variants' do not define"
                    )
        return self

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_LABEL.match(value):
            raise ValueError(f"{value!r} is not a valid namespace name")
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(f"{value!r} is not a URL (e.g. rtmp://host:1935/{{app}}/{{stream}})")
        return value

    @field_validator("file_path", "info_path")
    @classmethod
    def _path(cls, value: str, info: ValidationInfo) -> str:
        return checked_path(value, info.field_name)


class VhostConfig(_Strict):
    apps: dict[str, AppConfig]


class RecorderConfig(_Strict):
    """How recorder pods are made."""

    image: str = "recording-operator:latest"
    image_pull_policy: str = Field(default="IfNotPresent", alias="imagePullPolicy")
    command: list[str] = Field(default_factory=lambda: ["recording-operator", "record"])
    service_account_name: str = Field(
        default="recording-operator-recorder", alias="serviceAccountName"
    )
    #: From bench/recorder_cost.py (docs/benchmarks.md), as the chart's recorder.resources.
    resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "25m", "memory": "80Mi"},
            "limits": {"memory": "256Mi"},
        }
    )
    termination_grace_period_seconds: int = Field(
        default=30, ge=5, alias="terminationGracePeriodSeconds"
    )
    run_as_user: int = Field(default=10001, ge=1, alias="runAsUser")
    env: list[dict[str, Any]] = Field(default_factory=list)


class CatalogueConfig(_Strict):
    """The recordings catalogue's database (issue 15): ``sqlite:///path`` or
    ``postgresql://user@host/db``; a password is better given as
    ``$RECORDING_OPERATOR_CATALOGUE_URL`` from a Secret, which overrides this key."""

    url: str | None = None


class Config(_Strict):
    #: Namespace of an app's Recordings when the app does not name one.
    namespace: str = "default"
    #: Time zone for schedule splits.
    timezone: str = "UTC"
    #: Answer startRecord with a one-element array, as OvenMediaEngine 0.15.3 and earlier did.
    legacy_start_record_array: bool = Field(default=False, alias="legacyStartRecordArray")
    recorder: RecorderConfig = Field(default_factory=RecorderConfig)
    catalogue: CatalogueConfig = Field(default_factory=CatalogueConfig)
    vhosts: dict[str, VhostConfig]

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("vhosts")
    @classmethod
    def _names(cls, vhosts: dict[str, VhostConfig]) -> dict[str, VhostConfig]:
        for vhost, vcfg in vhosts.items():
            for name in (vhost, *vcfg.apps):
                if not LABEL_VALUE.match(name):
                    raise ValueError(
                        f"{name!r} is not usable as a vhost/app name (letters, digits, '-', "
                        "'_', '.', at most 63 characters)"
                    )
        return vhosts

    def app(self, vhost: str, app: str) -> AppConfig | None:
        vcfg = self.vhosts.get(vhost)
        return None if vcfg is None else vcfg.apps.get(app)

    def lookup(self, vhost: str, app: str) -> AppConfig:
        """The app's config; :class:`NotConfigured` in OME's words when the vhost or the app
        is not in the config (the API's 404 and the operator's refusal say the same)."""
        vcfg = self.vhosts.get(vhost)
        if vcfg is None:
            raise NotConfigured(f"Could not find the virtual host: [{vhost}]")
        acfg = vcfg.apps.get(app)
        if acfg is None:
            raise NotConfigured(f"Could not find the application: [{vhost}/{app}]")
        return acfg

    def namespace_of(self, vhost: str, app: str) -> str:
        acfg = self.app(vhost, app)
        return (acfg.namespace if acfg and acfg.namespace else None) or self.namespace

    def namespaces(self) -> list[str]:
        return sorted({self.namespace_of(v, a) for v, vc in self.vhosts.items() for a in vc.apps})


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def parse_config(data: Any, origin: str = "config") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping with a 'vhosts' key")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {_describe(exc)}") from None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, str(path))


def default_config(source: str = "rtmp://127.0.0.1:1935/{app}/{stream}") -> Config:
    """OvenMediaEngine's defaults: vhost ``default`` with app ``app``."""
    return parse_config({"vhosts": {"default": {"apps": {"app": {"source": source}}}}})
