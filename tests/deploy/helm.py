"""The chart through the real Helm library (helm-sdkpy bundles Helm's Go code): lint, install,
upgrade and uninstall, with the rendered manifest parsed for the checks.

helm-sdkpy has no ``template`` action, so rendering is an install into the real local control
plane: that also proves every object is accepted by the API server.
"""

from __future__ import annotations

import asyncio
import copy
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_sdkpy
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "recording-operator"
EXAMPLES = ROOT / "examples"
FULL_VALUES = EXAMPLES / "values-full.yaml"
Obj = dict[str, Any]

#: Helm lint's severities (its support.Severity): 1 info, 2 warning, 3 error.
LINT_WARNING = 2


@dataclass
class Release:
    name: str
    namespace: str
    status: str
    notes: str
    objects: list[Obj]

    def find(self, kind: str, name: str | None = None, namespace: str | None = None) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind
                and (name is None or o["metadata"]["name"] == name)
                and (namespace is None or o["metadata"].get("namespace") == namespace)]

    def one(self, kind: str, name: str | None = None, namespace: str | None = None) -> Obj:
        found = self.find(kind, name, namespace)
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
        return found[0]

    def deployment(self, component: str) -> Obj:
        return self.one("Deployment", f"{self.fullname}-{component}")

    @property
    def fullname(self) -> str:
        operator = [o for o in self.find("Deployment")
                    if o["metadata"]["labels"]["app.kubernetes.io/component"] == "operator"]
        return str(operator[0]["metadata"]["name"]).removesuffix("-operator")


def configuration(namespace: str, kubeconfig: Path | None = None) -> helm_sdkpy.Configuration:
    return helm_sdkpy.Configuration(
        namespace=namespace, kubeconfig=str(kubeconfig) if kubeconfig else None)


def _release(answer: Obj) -> Release:
    objects = [doc for doc in yaml.safe_load_all(answer.get("manifest") or "") if doc]
    info = answer.get("info") or {}
    return Release(name=answer["name"], namespace=answer["namespace"],
                   status=str(info.get("status")), notes=str(info.get("notes") or ""),
                   objects=objects)


def install(kubeconfig: Path, namespace: str, release: str, values: Obj | None = None,
            chart: Path = CHART) -> Release:
    """``helm install`` without waiting (nothing runs the pods unless a test starts a kubelet)."""
    action = helm_sdkpy.Install(configuration(namespace, kubeconfig))
    answer = asyncio.run(action.run(release, str(chart), values=values or {}, wait=False,
                                    timeout=60))
    return _release(answer)


def upgrade(kubeconfig: Path, namespace: str, release: str, values: Obj | None = None) -> Release:
    action = helm_sdkpy.Upgrade(configuration(namespace, kubeconfig))
    answer = asyncio.run(action.run(release, str(CHART), values=values or {}, wait=False,
                                    timeout=60))
    return _release(answer)


def uninstall(kubeconfig: Path, namespace: str, release: str) -> None:
    action = helm_sdkpy.Uninstall(configuration(namespace, kubeconfig))
    asyncio.run(action.run(release, wait=False, timeout=60))


def lint(chart: Path = CHART) -> list[Obj]:
    """Helm's lint messages (severity and path; helm-sdkpy does not carry their text)."""
    answer = asyncio.run(helm_sdkpy.Lint(configuration("default")).run(str(chart)))
    messages: list[Obj] = answer.get("Messages") or []
    return messages


def deep_merge(base: Obj, override: Obj) -> Obj:
    """Helm's coalescing of user values over the chart's values.yaml."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def chart_with_values(target: Path, values: Obj) -> Path:
    """A copy of the chart whose values.yaml is the defaults with ``values`` over them, for
    lint (which reads only the chart's own values)."""
    copy_dir = target / CHART.name
    shutil.copytree(CHART, copy_dir)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    (copy_dir / "values.yaml").write_text(yaml.safe_dump(deep_merge(defaults, values)))
    return copy_dir


def load_yaml(path: Path) -> Obj:
    data: Obj = yaml.safe_load(path.read_text())
    return data
