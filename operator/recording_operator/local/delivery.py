"""The embedded mode's delivery process: when it runs, with which rights, flags and store.

It runs only when some app has an ``upload``, ``events`` or ``retention`` block, or an extra
receiver is given (so the default ``make run`` starts nothing more). ``dev --s3`` brings a local
S3-compatible store and points every app that has no ``upload`` block at it, with the store's
credentials in the standard AWS variables of the delivery process, as the issue asks of the
embedded mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..model.config import Config
from .s3server import S3Server

#: The bucket ``dev --s3`` makes; objects go to ``<vhost>/<app>/<path under the root>``.
S3_BUCKET = "recordings"
ENV_EXTRA_SECRET = "RECORDING_OPERATOR_EXTRA_RECEIVER_SECRET"  # noqa: S105 - a variable's name


def needs_delivery(config: Config, extra_receiver: tuple[str, str] | None) -> bool:
    apps = [a for v in config.vhosts.values() for a in v.apps.values()]
    return extra_receiver is not None or any(a.upload or a.events or a.retention for a in apps)


def upload_to_local_store(data: dict[str, Any], server: S3Server) -> None:
    """Gives every app of a config dump without an upload block one to the local store."""
    for vhost_name, vhost in data["vhosts"].items():
        for app_name, app in vhost["apps"].items():
            app.setdefault("upload", {"url": f"s3://{S3_BUCKET}/{vhost_name}/{app_name}",
                                      "endpoint": server.endpoint, "region": server.region})


def delivery_rules(base: list[dict[str, Any]], config: Config) -> list[dict[str, Any]]:
    """The chart's delivery rules, plus ``get`` on exactly the Secrets the config names."""
    names: set[str] = set()
    for vhost in config.vhosts.values():
        for app in vhost.apps.values():
            if app.upload and app.upload.secret_name:
                names.add(app.upload.secret_name)
            names.update(r.secret_name for r in app.events if r.secret_name)
    if not names:
        return base
    return [*base, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                    "resourceNames": sorted(names)}]


def delivery_command(own: list[str], config_path: Path, kubeconfig: Path, data_dir: Path,
            recordings_dir: Path, extra_receiver: tuple[str, str] | None,
            server: S3Server | None) -> tuple[list[str], dict[str, str]]:
    """The delivery process's argv and the environment it adds."""
    argv = [*own, "deliver", f"--config={config_path}", f"--kubeconfig={kubeconfig}",
            f"--storage-root={recordings_dir}", f"--state-dir={data_dir / 'delivery'}",
            "--bind-address=127.0.0.1", "--metrics-port=0"]
    env: dict[str, str] = {}
    if extra_receiver is not None:
        argv.append(f"--extra-receiver={extra_receiver[0]}")
        env[ENV_EXTRA_SECRET] = extra_receiver[1]
    if server is not None:
        env.update({"AWS_ACCESS_KEY_ID": server.access_key,
                    "AWS_SECRET_ACCESS_KEY": server.secret_key, "AWS_REGION": server.region})
    return argv, env
