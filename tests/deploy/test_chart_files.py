"""The chart as files: the CRD copy, lint by the real Helm library (default values and the full
example), and the full example really setting every value the chart has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .helm import CHART, FULL_VALUES, LINT_WARNING, ROOT, chart_with_values, lint, load_yaml

#: Maps whose keys are the user's own (names, labels, resources), not chart options.
FREE_FORM = {
    "config.vhosts", "recordMaps", "commonLabels", "podSecurityContext", "securityContext",
    "operator.resources", "api.resources", "recorder.resources", "operator.nodeSelector",
    "api.nodeSelector", "operator.affinity", "api.affinity", "operator.podAnnotations",
    "api.podAnnotations", "operator.podLabels", "api.podLabels", "serviceMonitor.labels",
    "persistence.annotations", "operator.metrics.service.annotations",
    "api.service.annotations", "serviceAccount.operator.annotations",
    "serviceAccount.api.annotations", "serviceAccount.recorder.annotations",
    "prometheusRule.labels", "grafanaDashboard.labels", "grafanaDashboard.annotations",
}


def keys(values: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        out.add(path)
        if isinstance(value, dict) and path not in FREE_FORM:
            out |= keys(value, path + ".")
    return out


def test_chart_crd_is_a_byte_identical_copy_of_crds() -> None:
    assert (CHART / "crds" / "recording.yaml").read_bytes() == (
        ROOT / "crds" / "recording.yaml").read_bytes(), (
        "charts/recording-operator/crds/recording.yaml differs from crds/recording.yaml: "
        "cp crds/recording.yaml charts/recording-operator/crds/")
    assert sorted(p.name for p in (CHART / "crds").iterdir()) == sorted(
        p.name for p in (ROOT / "crds").glob("*.yaml"))


def test_lint_with_default_values_is_clean() -> None:
    messages = lint()
    problems = [m for m in messages if m["Severity"] >= LINT_WARNING]
    assert not problems, f"helm lint found problems in: {[m['Path'] for m in problems]}"


def test_lint_with_the_full_example_values_is_clean(tmp_path: Path) -> None:
    chart = chart_with_values(tmp_path, load_yaml(FULL_VALUES))
    messages = lint(chart)
    problems = [m for m in messages if m["Severity"] >= LINT_WARNING]
    assert not problems, f"helm lint found problems in: {[m['Path'] for m in problems]}"


def test_lint_notices_a_value_the_schema_refuses(tmp_path: Path) -> None:
    """The lint check itself works: a bad value makes an error on values.yaml."""
    chart = chart_with_values(tmp_path, {"api": {"replicaCount": 0}})
    assert any(m["Severity"] > LINT_WARNING and m["Path"] == "values.yaml" for m in lint(chart))


def test_full_example_sets_every_value_and_only_real_ones() -> None:
    defaults = keys(load_yaml(CHART / "values.yaml"))
    full = keys(load_yaml(FULL_VALUES))
    assert defaults - full == set(), "examples/values-full.yaml misses these values"
    assert full - defaults == set(), "examples/values-full.yaml sets values the chart lacks"


def test_schema_knows_every_default_value() -> None:
    """values.schema.json refuses unknown keys, so each default key must be declared there."""
    schema = load_yaml(CHART / "values.schema.json")  # JSON is YAML

    def declared(node: dict[str, Any], path: list[str]) -> bool:
        for part in path:
            props = node.get("properties") or {}
            if part in props:
                node = props[part]
            elif isinstance(node.get("additionalProperties"), dict):
                node = node["additionalProperties"]
            else:  # additionalProperties false refuses the key; absent lets anything in
                return node.get("additionalProperties") is not False
        return True

    missing = [k for k in sorted(keys(load_yaml(CHART / "values.yaml")))
               if not declared(schema, k.split("."))]
    assert not missing, f"values.schema.json does not declare: {missing}"


def test_rbac_file_has_the_three_deployed_components() -> None:
    rules = yaml.safe_load((CHART / "files" / "rbac.yaml").read_text())
    assert {"operator", "api", "recorder"} <= set(rules)
