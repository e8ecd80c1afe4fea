"""The API's settings: the vhost/app config, the access token, the prefix and where Kubernetes is.

The token is read from a file (a mounted Secret) or the environment, never from the config file
or the command line, so it appears in no ConfigMap, process list or log; an empty token is
refused at start-up because it would either lock every client out or, worse, be guessable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..kube.connection import KubeTarget
from ..model.config import Config, ConfigError, default_config, load_config

TOKEN_ENV = "RECORDING_OPERATOR_ACCESS_TOKEN"  # noqa: S105 (a variable name)
DEFAULT_PREFIX = "/v1"


class SettingsError(ValueError):
    """The API cannot start with these settings; the message says what to fix."""


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
) -> ApiSettings:
    try:
        config = load_config(config_path) if config_path else default_config()
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None
    return ApiSettings(
        config=config,
        access_token=read_token(token_file, environ),
        prefix=normalise_prefix(prefix),
        kube=KubeTarget(url=kube_url, kubeconfig=kubeconfig),
    )
