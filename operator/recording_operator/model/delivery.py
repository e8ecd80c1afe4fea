"""What happens to an app's files after they close: upload, events, retention (config keys).

The ``upload``, ``events`` and ``retention`` blocks of an app in the vhost/app config. Kept apart
from :mod:`.config` because only the delivery process acts on them; the API and the operator
just carry them. Every value is checked here so that a malformed block stops start-up with the
key's name (the config loader turns these errors into ``vhosts.x.apps.y.upload.url: ...``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# S3 bucket names: 3-63 characters, lowercase letters, digits, dots and hyphens.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_DURATION = re.compile(r"^([0-9]+)([smhd])$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A Kubernetes quantity: a decimal number and an optional binary or decimal suffix.
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_QUANTITY_UNITS = {
    None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_HTTP_URL = re.compile(r"^https?://[^/\s]+")


def parse_duration(text: str) -> int:
    """Seconds in ``30s``, ``15m``, ``12h`` or ``7d``; ValueError otherwise."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration (a whole number and s, m, h or d: 7d)")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_quantity(text: str | int) -> int:
    """Bytes in a Kubernetes quantity (``500Gi``, ``10G``, ``1048576``); ValueError otherwise."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a quantity of bytes (e.g. 500Gi, 10G, 1048576)")
    try:
        value = Decimal(match.group(1)) * _QUANTITY_UNITS[match.group(2)]
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{text!r} is not a number") from exc
    return int(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _check_secret_name(value: str | None) -> str | None:
    if value is not None and not _SECRET_NAME.match(value):
        raise ValueError(f"{value!r} is not a valid Secret name")
    return value


def _check_http_url(value: str) -> str:
    if not _HTTP_URL.match(value):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


class UploadConfig(_Strict):
    """Where an app's finished files go: ``s3://bucket/prefix`` on an S3-compatible store."""

    url: str
    #: An S3-compatible store's URL; absent means AWS itself.
    endpoint: str | None = None
    region: str | None = None
    #: A Secret in the app's namespace with keys ``accessKeyId`` and ``secretAccessKey``.
    #: Absent: the standard AWS variables of the delivery process.
    secret_name: str | None = Field(default=None, alias="secretName")
    #: Remove the local copy once the store has confirmed the whole object.
    delete_local: bool = Field(default=True, alias="deleteLocal")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith("s3://"):
            raise ValueError(f"{value!r} is not an s3:// URL (s3://bucket/optional/prefix)")
        bucket = value[len("s3://"):].split("/", 1)[0]
        if not _BUCKET.match(bucket):
            raise ValueError(f"{bucket!r} is not a valid bucket name")
        prefix = value[len("s3://") + len(bucket):].strip("/")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise ValueError(f"the key prefix {prefix!r} must not hold empty, '.' or '..' parts")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return value if value is None else _check_http_url(value)

    @field_validator("secret_name")
    @classmethod
    def _secret_name(cls, value: str | None) -> str | None:
        return _check_secret_name(value)

    @property
    def bucket(self) -> str:
        return self.url[len("s3://"):].split("/", 1)[0]

    @property
    def prefix(self) -> str:
        """The key prefix without surrounding slashes ('' for none)."""
        return self.url[len("s3://") + len(self.bucket):].strip("/")

    def key(self, relative_path: str) -> str:
        """The object key of a file at ``relative_path`` under the storage root."""
        return f"{self.prefix}/{relative_path}" if self.prefix else relative_path


class EventReceiverConfig(_Strict):
    """One receiver of signed CloudEvents; the secret inline or from a Secret (key ``secret``)."""

    url: str
    secret: str | None = None
    secret_name: str | None = Field(default=None, alias="secretName")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("secret_name")
    @classmethod
    def _secret_name(cls, value: str | None) -> str | None:
        return _check_secret_name(value)

    @model_validator(mode="after")
    def _one_secret(self) -> EventReceiverConfig:
        if (self.secret is None) == (self.secret_name is None):
            raise ValueError("give exactly one of 'secret' or 'secretName'")
        if self.secret is not None and not self.secret:
            raise ValueError("the secret must not be empty")
        return self


class RetentionConfig(_Strict):
    """How long, and how many bytes of, an app's local files are kept (oldest go first)."""

    max_age: str | None = Field(default=None, alias="maxAge")
    max_bytes: str | int | None = Field(default=None, alias="maxBytes")

    @field_validator("max_age")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("max_bytes")
    @classmethod
    def _bytes(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_quantity(value)
        return value

    @property
    def max_age_seconds(self) -> int | None:
        return None if self.max_age is None else parse_duration(self.max_age)

    @property
    def max_bytes_total(self) -> int | None:
        return None if self.max_bytes is None else parse_quantity(self.max_bytes)
