"""The API's settings: the vhost/app config, the access token, the prefix and where Kubernetes is.

The token is read from a file (a mounted Secret) or the environment, never from the config file
or the command line, so it appears in no ConfigMap, process list or log; an empty token is
refused at start-up because it would either lock every client out or, worse, be guessable, and
so is one shorter than :data:`MIN_TOKEN_BYTES` outside the embedded mode (a token is the only
credential, and the API may face a network).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..kube.target import KubeTarget
from ..model.config import Config, ConfigError, default_config, load_config

TOKEN_ENV = "RECORDING_OPERATOR_ACCESS_TOKEN"  # noqa: S105 (a variable name)
#: The catalogue's database URL (overrides the config's catalogue.url: it may hold a password).
CATALOGUE_URL_ENV = "RECORDING_OPERATOR_CATALOGUE_URL"
#: The secret the catalogue's event receiver verifies signatures with.
CATALOGUE_SECRET_ENV = "RECORDING_OPERATOR_CATALOGUE_SECRET"  # noqa: S105 (a variable name)
DEFAULT_PREFIX = "/v1"
#: OvenMediaEngine's API port, so existing clients need only a new host.
DEFAULT_PORT = 8081
#: The shortest access token the API accepts outside the embedded mode: 16 bytes (128 bits when
#: random; the chart generates 32 characters).
MIN_TOKEN_BYTES = 16


class SettingsError(ValueError):
    """The API cannot start with these settings; the message says what to fix."""


#: Where the recordings volume is mounted for the API (exports and file downloads read it).
STORAGE_ROOT_ENV = "RECORDING_OPERATOR_STORAGE_ROOT"


@dataclass(frozen=True)
class ApiSettings:
    config: Config
    access_token: str = field(repr=False)
    prefix: str = DEFAULT_PREFIX
    kube: KubeTarget = field(default_factory=KubeTarget)
    #: Budget of one Kubernetes call (429 retries included) before the client gets a 503.
    kube_timeout: float = 10.0
    #: Answer records from a watch-backed cache (off: one LIST per call).
    watch_cache: bool = True
    #: records from the cache is consistent with every write finished before the call, on
    #: any replica (see api/cache.py); off: this replica's cache as it is (read-your-writes
    #: for this replica's own writes only; for one replica, or to measure what the check costs).
    consistent_reads: bool = True
    #: Serve /openapi.json without the token (off: it needs the token like every call).
    public_openapi: bool = False
    #: The recordings catalogue's database URL (None: no catalogue routes answer 503).
    catalogue_url: str | None = field(default=None, repr=False)
    #: The Standard Webhooks secret the delivery signs the catalogue's events with (None:
    #: the event receiver refuses every event).
    catalogue_secret: str | None = field(default=None, repr=False)
    #: Where the recordings volume is mounted in the API's pod (None: exports read only the
    #: bucket, and apps whose storage is a hostPath read that path).
    storage_root: Path | None = None

    @property
    def legacy_start_record_array(self) -> bool:
        return self.config.legacy_start_record_array


def normalise_prefix(prefix: str) -> str:
    """``v1/`` → ``/v1``; ``/`` or empty → no prefix."""
    cleaned = "/" + prefix.strip().strip("/")
    return "" if cleaned == "/" else cleaned


def read_token(token_file: str | None, environ: dict[str, str] | None = None) -> str:
    """The access token from ``token_file`` when given, else from the environment.

    One trailing newline is dropped (``echo secret > file`` and most Secret tooling add one);
    any other whitespace is part of the token.
    """
    environ = dict(os.environ) if environ is None else environ
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(
                f"cannot read the access token file {token_file}: {exc.strerror}"
            ) from None
        except UnicodeDecodeError:
            raise SettingsError(f"the access token file {token_file} is not UTF-8 text") from None
        origin = f"the access token file {token_file}"
    else:
        token = environ.get(TOKEN_ENV, "")
        origin = f"${TOKEN_ENV}"
    token = token.removesuffix("\n").removesuffix("\r")
    if not token:
        raise SettingsError(
            f"the access token is empty: put it in {origin}"
            if token_file
            else f"no access token: set ${TOKEN_ENV} or pass --access-token-file"
        )
    return token


def load_settings(
    *,
    config_path: str | None = None,
    token_file: str | None = None,
    kubeconfig: str | None = None,
    kube_url: str | None = None,
    prefix: str = DEFAULT_PREFIX,
    environ: dict[str, str] | None = None,
    min_token_bytes: int = MIN_TOKEN_BYTES,
    public_openapi: bool = False,
    consistent_reads: bool = True,
) -> ApiSettings:
    """``min_token_bytes`` 0: any non-empty token (the embedded mode, on loopback)."""
    try:
        config = load_config(config_path) if config_path else default_config()
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None
    token = read_token(token_file, environ)
    env = dict(os.environ) if environ is None else environ
    if len(token.encode("utf-8")) < min_token_bytes:
        raise SettingsError(
            f"the access token is {len(token.encode('utf-8'))} bytes long; at least "
            f"{min_token_bytes} are required (e.g. `head -c 24 /dev/urandom | base64`)"
        )
    return ApiSettings(
        config=config,
        access_token=token,
        prefix=normalise_prefix(prefix),
        kube=KubeTarget(url=kube_url, kubeconfig=kubeconfig),
        public_openapi=public_openapi,
        consistent_reads=consistent_reads,
        catalogue_url=env.get(CATALOGUE_URL_ENV) or config.catalogue.url,
        catalogue_secret=env.get(CATALOGUE_SECRET_ENV) or None,
        storage_root=Path(env[STORAGE_ROOT_ENV]) if env.get(STORAGE_ROOT_ENV) else None,
    )
