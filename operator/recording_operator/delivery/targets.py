"""Which apps delivery serves and where, on this machine, each app's files are.

A recorder pod sees its app's storage at ``/recordings``; the delivery process mounts the same
volumes elsewhere. An app's directory here is, in order: an explicit ``--app-root vhost/app=DIR``;
the ``hostPath`` of its volume (the embedded mode and single-node clusters); else the storage
root (``--storage-root``) joined with the app's ``subPath``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..model.config import AppConfig, Config


@dataclass(frozen=True)
class AppTarget:
    vhost: str
    app: str
    namespace: str
    root: Path
    config: AppConfig

    @property
    def name(self) -> str:
        return f"{self.vhost}/{self.app}"

    @property
    def active(self) -> bool:
        """Whether delivery has anything to do for this app."""
        return bool(self.config.upload or self.config.events or self.config.retention)


def app_targets(config: Config, storage_root: Path,
                overrides: dict[str, Path] | None = None) -> list[AppTarget]:
    overrides = overrides or {}
    targets = []
    for vhost, vcfg in config.vhosts.items():
        for app, acfg in vcfg.apps.items():
            name = f"{vhost}/{app}"
            host_path = acfg.storage.volume.get("hostPath", {}).get("path")
            if name in overrides:
                root = overrides[name]
            elif host_path:
                root = Path(host_path)
            else:
                root = storage_root / (acfg.storage.sub_path or "")
            targets.append(AppTarget(vhost, app, config.namespace_of(vhost, app), root, acfg))
    return targets
