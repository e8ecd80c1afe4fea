"""Fixtures for the operator tests: a namespace with the recorder's ServiceAccount, the
operator's own ServiceAccount bound to the chart's ``operator`` rules, and a factory that
starts the real operator with short, test-friendly timings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recording_operator.local.controlplane import ControlPlane

from .support import RECORDER_SA, Kube, Operator, write_config

#: Fast timings; each test overrides what it exercises.
FAST = ["--stop-poll", "0.3", "--restart-backoff", "0.3", "--restart-backoff-max", "2",
        "--retry-delay", "0.5", "--log-format", "json"]


@pytest.fixture
def kube(controlplane: ControlPlane, namespace: str) -> Iterator[Kube]:
    controlplane.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": RECORDER_SA, "namespace": namespace}})
    helper = Kube(controlplane, namespace)
    yield helper
    # Bound pods linger without a kubelet; clear them so the namespace can go.
    helper.force_delete_pods()


@pytest.fixture
def operator_kubeconfig(
    controlplane: ControlPlane, namespace: str, rbac_rules: dict[str, list[dict[str, Any]]]
) -> Path:
    return controlplane.service_account_kubeconfig(namespace, "operator", rbac_rules["operator"])


@pytest.fixture
def start_operator(
    kube: Kube, operator_kubeconfig: Path, namespace: str, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., Operator]]:
    """Starts ``recording-operator run`` for this namespace; stops it after the test."""
    started: list[Operator] = []

    def start(*extra: str, config: Path | None = None, kubeconfig: Path | None = None,
              scope: tuple[str, ...] | None = None) -> Operator:
        cfg = config or write_config(tmp_path / "config.yaml", namespace)
        args = ["--config", str(cfg), "--kubeconfig", str(kubeconfig or operator_kubeconfig),
                *(scope if scope is not None else ("--namespace", namespace)), *FAST, *extra]
        op = Operator(args, tmp_path)
        started.append(op)
        op.start()
        return op

    yield start
    failed = getattr(request.node, "rep_call", None)
    for op in started:
        op.stop()
        if failed is not None and failed.failed:
            print(op.all_logs())


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
