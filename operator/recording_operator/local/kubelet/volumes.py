"""A pod's volumes as directories under the runner's data directory.

- ``hostPath``: that host path (created for ``DirectoryOrCreate``/``FileOrCreate`` or no type);
- ``emptyDir``: ``<data>/pods/<uid>/volumes/<name>``, removed with the pod;
- ``persistentVolumeClaim``: ``<data>/pvc/<namespace>/<claimName>``, kept across pods, which is
  what makes a recording survive its recorder pod;
- ``configMap``, ``secret``, ``downwardAPI``, ``projected`` (incl. ``serviceAccountToken``):
  files written once at pod start into ``<data>/pods/<uid>/volumes/<name>`` (tokens are
  refreshed, ConfigMap and Secret contents are not).

Anything else cannot be mapped and keeps the pod waiting with a message saying so.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .env import ContainerConfigError, ObjectCache, field_value
from .paths import PathMap, expand, safe_join
from .tokens import DEFAULT_EXPIRATION, PodTokens, write_private

Obj = dict[str, Any]


@dataclass(frozen=True)
class PodDirs:
    """Where one pod's files live. Logs are kept apart, named like the kubelet's
    ``/var/log/pods/<namespace>_<name>_<uid>``, and outlive the pod."""

    data: Path
    namespace: str
    name: str
    uid: str

    @classmethod
    def of(cls, data: Path, pod: Obj) -> PodDirs:
        meta = pod["metadata"]
        return cls(data, meta["namespace"], meta["name"], meta["uid"])

    @property
    def pod(self) -> Path:
        return self.data / "pods" / self.uid

    @property
    def volumes(self) -> Path:
        return self.pod / "volumes"

    @property
    def service_account(self) -> Path:
        return self.pod / "serviceaccount"

    @property
    def logs(self) -> Path:
        return self.data / "pods" / f"{self.namespace}_{self.name}_{self.uid}"

    def log(self, container: str) -> Path:
        return self.logs / f"{container}.log"

    def remove(self) -> None:
        """The pod's volumes and token files; not logs, not hostPath or claim directories."""
        shutil.rmtree(self.pod, ignore_errors=True)


async def prepare(pod: Obj, dirs: PodDirs, objects: ObjectCache, tokens: PodTokens) -> (
    dict[str, Path]
):
    """Creates every volume's directory and files; returns the host path per volume name."""
    dirs.pod.mkdir(parents=True, exist_ok=True)
    dirs.pod.chmod(0o700)
    out: dict[str, Path] = {}
    namespace = dirs.namespace
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = volume["name"]
        own = dirs.volumes / name
        if "emptyDir" in volume:
            own.mkdir(parents=True, exist_ok=True)
            out[name] = own
        elif "hostPath" in volume:
            out[name] = _host_path(volume["hostPath"])
        elif "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            path = safe_join(dirs.data / "pvc", f"{namespace}/{claim}")
            path.mkdir(parents=True, exist_ok=True)
            out[name] = path
        elif "configMap" in volume or "secret" in volume:
            kind, source = (("configmaps", volume["configMap"]) if "configMap" in volume
                            else ("secrets", volume["secret"]))
            object_name = source.get("name") or source.get("secretName", "")
            await _write_object(own, kind, object_name, source, objects,
                                int(source.get("defaultMode", 0o644)))
            out[name] = own
        elif "downwardAPI" in volume:
            source = volume["downwardAPI"]
            _write_downward(own, pod, source.get("items") or [],
                            int(source.get("defaultMode", 0o644)))
            out[name] = own
        elif "projected" in volume:
            await _write_projected(own, pod, volume["projected"], objects, tokens)
            out[name] = own
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise ContainerConfigError(
                f"volume {name!r}: type {kinds} cannot be mapped by the local runner"
            )
    return out


def mounts(container: Obj, volumes: dict[str, Path], env: dict[str, str]) -> PathMap:
    """The container's mountPath → host path map, honouring subPath and subPathExpr."""
    table: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            raise ContainerConfigError(f"volumeMount {mount['name']!r} names no volume of the pod")
        sub = mount.get("subPath") or expand(str(mount.get("subPathExpr") or ""), env)
        path = safe_join(volume, sub) if sub else volume
        if sub and not path.exists():
            path.mkdir(parents=True, exist_ok=True)
        table[mount["mountPath"]] = path
    return PathMap(table)


def _host_path(source: Obj) -> Path:
    path = Path(source["path"])
    kind = source.get("type") or ""
    if kind in ("", "DirectoryOrCreate") and not path.exists():
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    elif kind == "Directory" and not path.is_dir():
        raise ContainerConfigError(f"hostPath {path} is not a directory")
    elif kind == "File" and not path.is_file():
        raise ContainerConfigError(f"hostPath {path} is not a file")
    return path


def _fresh(directory: Path) -> None:
    """Files volumes are rewritten whole at each start, so removed keys do not linger."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


async def _write_object(directory: Path, kind: str, name: str, source: Obj,
                        objects: ObjectCache, default_mode: int, fresh: bool = True) -> None:
    if fresh:
        _fresh(directory)
    data = await objects.data(kind, name, bool(source.get("optional")))
    if data is None:
        return
    items = source.get("items")
    if not items:
        items = [{"key": key, "path": key} for key in data]
    for item in items:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise ContainerConfigError(f"key {item['key']!r} not found in {kind[:-1]} {name!r}")
        write_private(safe_join(directory, item["path"]), data[item["key"]],
                      int(item.get("mode", default_mode)))


def _write_downward(directory: Path, pod: Obj, items: list[Obj], default_mode: int,
                    fresh: bool = True) -> None:
    if fresh:
        _fresh(directory)
    for item in items:
        if "fieldRef" not in item:
            raise ContainerConfigError("downwardAPI: only fieldRef items are supported locally")
        value = field_value(pod, item["fieldRef"]["fieldPath"])
        write_private(safe_join(directory, item["path"]), value.encode(),
                      int(item.get("mode", default_mode)))


async def _write_projected(directory: Path, pod: Obj, projected: Obj, objects: ObjectCache,
                           tokens: PodTokens) -> None:
    _fresh(directory)
    mode = int(projected.get("defaultMode", 0o644))
    for source in projected.get("sources") or []:
        if "serviceAccountToken" in source:
            token = source["serviceAccountToken"]
            await tokens.write_token(
                safe_join(directory, token["path"]), token.get("audience"),
                int(token.get("expirationSeconds") or DEFAULT_EXPIRATION), mode)
        elif "configMap" in source:
            ref = source["configMap"]
            await _write_object(directory, "configmaps", ref.get("name", ""), ref, objects,
                                mode, fresh=False)
        elif "secret" in source:
            ref = source["secret"]
            await _write_object(directory, "secrets", ref.get("name", ""), ref, objects,
                                mode, fresh=False)
        elif "downwardAPI" in source:
            _write_downward(directory, pod, source["downwardAPI"].get("items") or [], mode,
                            fresh=False)
        else:
            raise ContainerConfigError(
                f"projected source {sorted(source)} is not supported locally"
            )
