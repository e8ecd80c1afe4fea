"""examples/kubectl/recording-operator.yaml is exactly the chart's render (so the kubectl path
never drifts from the Helm path) and the API server accepts every object of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from recording_operator.local.controlplane import ControlPlane

from .static import NAMESPACE, TARGET, render

pytestmark = pytest.mark.controlplane
KUBECTL = str(Path(sys.executable).parent / "kubectl")


def test_static_manifest_is_the_charts_render(controlplane: ControlPlane,
                                              new_namespace: Any) -> None:
    new_namespace(NAMESPACE, exact=True)
    rendered = render(controlplane.admin_kubeconfig)
    assert TARGET.read_text() == rendered, (
        f"{TARGET.name} is stale: regenerate it with `.venv/bin/python -m tests.deploy.static`")
    kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered) if doc}
    assert "Secret" not in kinds and "Deployment" in kinds
    done = subprocess.run(
        [KUBECTL, f"--kubeconfig={controlplane.admin_kubeconfig}", "apply", "--dry-run=server",
         "-f", str(TARGET)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
