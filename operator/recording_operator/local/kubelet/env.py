"""A container's environment, resolved the way a kubelet resolves it.

Literal values are ``$(VAR)``-expanded against the variables defined before them and then have
their mount paths rewritten (see :mod:`.paths`); values read from the API (fieldRef, configMap,
secret) are used as they are.
"""

from __future__ import annotations

import base64
import math
import os
import re
import sys
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .api import Api, RunnerApiError
from .paths import PathMap, expand
from .status import HOST_IP, POD_IP

Obj = dict[str, Any]
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ContainerConfigError(Exception):
    """The container cannot be configured yet (a missing ConfigMap, Secret or key)."""


class StartError(Exception):
    """The container can never start as specified (no command): it ends with exit code 128."""


def runner_path() -> str:
    """The runner's PATH with its own interpreter's directory first, so console scripts of the
    virtualenv the runner lives in (``recording-operator``) are found even when it is not
    activated."""
    own = os.path.dirname(sys.executable)
    parts = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p]
    return os.pathsep.join([own, *[p for p in parts if p != own]])


class ObjectCache:
    """ConfigMaps and Secrets read once per container start."""

    def __init__(self, api: Api, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self._seen: dict[tuple[str, str], Obj | None] = {}

    async def get(self, kind: str, name: str) -> Obj | None:
        """``kind`` is ``configmaps`` or ``secrets``; None when the object does not exist."""
        key = (kind, name)
        if key not in self._seen:
            try:
                self._seen[key] = await self.api.request(
                    "GET", f"/api/v1/namespaces/{self.namespace}/{kind}/{name}")
            except RunnerApiError as exc:
                if exc.status != 404:
                    raise ContainerConfigError(f"cannot read {kind[:-1]} {name!r}: {exc}") from exc
                self._seen[key] = None
        return self._seen[key]

    async def data(self, kind: str, name: str, optional: bool) -> dict[str, bytes] | None:
        obj = await self.get(kind, name)
        if obj is None:
            if optional:
                return None
            raise ContainerConfigError(f"{kind[:-1]} {name!r} not found")
        return object_data(kind, obj)


def object_data(kind: str, obj: Obj) -> dict[str, bytes]:
    """A ConfigMap's or Secret's entries as bytes (Secrets and binaryData arrive base64)."""
    out: dict[str, bytes] = {}
    if kind == "secrets":
        for key, value in (obj.get("data") or {}).items():
            out[key] = base64.b64decode(value)
        for key, value in (obj.get("stringData") or {}).items():
            out[key] = str(value).encode()
    else:
        for key, value in (obj.get("data") or {}).items():
            out[key] = str(value).encode()
        for key, value in (obj.get("binaryData") or {}).items():
            out[key] = base64.b64decode(value)
    return out


def field_value(pod: Obj, field_path: str) -> str:
    """A downward-API field of the pod, with the pod IPs being loopback."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
        "status.podIP": POD_IP,
        "status.podIPs": POD_IP,
        "status.hostIP": HOST_IP,
        "status.hostIPs": HOST_IP,
    }
    if field_path in simple:
        return str(simple[field_path])
    match = re.fullmatch(r"metadata\.(labels|annotations)(?:\['(.+)'\])?", field_path)
    if match:
        values: Mapping[str, str] = meta.get(match.group(1)) or {}
        if match.group(2) is not None:
            return str(values.get(match.group(2), ""))
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    raise ContainerConfigError(f"fieldRef {field_path!r} is not supported")


_SUFFIX: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "m": Decimal("0.001"), "": 1,
}


def quantity(text: str) -> Decimal:
    match = re.fullmatch(r"([0-9.eE+-]+?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m|)", str(text).strip())
    if not match:
        raise ContainerConfigError(f"bad quantity {text!r}")
    try:
        return Decimal(match.group(1)) * Decimal(_SUFFIX[match.group(2)])
    except InvalidOperation as exc:
        raise ContainerConfigError(f"bad quantity {text!r}") from exc


def resource_value(container: Obj, ref: Obj, allocatable: Mapping[str, str]) -> str:
    """limits.cpu and friends; an unset limit is the node's allocatable, as on a real node."""
    resource = str(ref.get("resource", ""))
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not name:
        raise ContainerConfigError(f"resourceFieldRef {resource!r} is not supported")
    resources = container.get("resources") or {}
    raw = (resources.get(kind) or {}).get(name)
    if raw is None and kind == "requests":
        raw = (resources.get("limits") or {}).get(name)
    if raw is None:
        raw = allocatable.get(name, "0") if kind == "limits" else "0"
    divisor = quantity(str(ref.get("divisor") or "1"))
    if divisor <= 0:
        raise ContainerConfigError(f"bad divisor in resourceFieldRef {resource!r}")
    return str(math.ceil(quantity(str(raw)) / divisor))


async def container_env(
    pod: Obj,
    container: Obj,
    base: Mapping[str, str],
    objects: ObjectCache,
    paths: PathMap,
    allocatable: Mapping[str, str],
) -> dict[str, str]:
    env = dict(base)
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for kind, ref_key in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
            ref = source.get(ref_key)
            if ref is None:
                continue
            data = await objects.data(kind, ref.get("name", ""), bool(ref.get("optional")))
            for key, value in (data or {}).items():
                if _ENV_NAME.match(prefix + key):
                    env[prefix + key] = value.decode(errors="replace")
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = paths.rewrite(expand(str(var.get("value") or ""), env))
            continue
        source = var["valueFrom"]
        if "fieldRef" in source:
            env[name] = field_value(pod, source["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in source:
            env[name] = resource_value(container, source["resourceFieldRef"], allocatable)
        else:
            for kind, ref_key in (("configmaps", "configMapKeyRef"), ("secrets", "secretKeyRef")):
                ref = source.get(ref_key)
                if ref is None:
                    continue
                optional = bool(ref.get("optional"))
                data = await objects.data(kind, ref.get("name", ""), optional)
                if data is None:
                    break
                if ref["key"] not in data:
                    if optional:
                        break
                    raise ContainerConfigError(
                        f"key {ref['key']!r} not found in {kind[:-1]} {ref.get('name')!r}")
                env[name] = data[ref["key"]].decode(errors="replace")
                break
            else:
                raise ContainerConfigError(f"env {name}: unsupported valueFrom {sorted(source)}")
    return env


def command_line(container: Obj, env: Mapping[str, str], paths: PathMap) -> list[str]:
    """command + args, ``$(VAR)``-expanded and, except the program itself, path-rewritten:
    with no images the program is a host program (the interpreter of a virtualenv that may lie
    under a path also used as a mountPath). No image entrypoint exists locally either, so a
    container without a command cannot run."""
    command = [str(c) for c in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    if not command:
        raise StartError(
            "the container has no command; the local runner has no images to take an "
            "entrypoint from, so set spec.containers[].command")
    program, *rest = [expand(part, env) for part in command + args]
    return [program, *(paths.rewrite(part) for part in rest)]
