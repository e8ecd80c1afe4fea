"""`make e2e-kind` from the test suite: where Docker and kind exist it runs the whole kind flow
(tools/e2e-kind.sh); elsewhere it skips and says which is missing. The kind suite's own
manifests and values are checked here on the local control plane, so they are known to be
accepted before a kind machine ever runs them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from recording_operator.local.controlplane import ControlPlane

from .helm import ROOT, install, load_yaml, uninstall
from .kind.install import VALUES

KIND_DIR = Path(__file__).with_name("kind")
KUBECTL = str(Path(sys.executable).parent / "kubectl")
RELEASE = "recording-operator"


def missing_tools() -> str | None:
    if shutil.which("docker") is None:
        return "Docker is not installed"
    if shutil.which("kind") is None:
        return "kind is not installed"
    done = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return "no Docker engine answers (docker info failed)"
    return None


@pytest.mark.kind
@pytest.mark.timeout(3600)
def test_e2e_kind() -> None:
    reason = missing_tools()
    if reason:
        pytest.skip(f"e2e-kind needs Docker and kind: {reason}")
    done = subprocess.run(["bash", str(ROOT / "tools" / "e2e-kind.sh")], cwd=ROOT,
                          timeout=3500)
    assert done.returncode == 0, "tools/e2e-kind.sh failed (its output is above)"


@pytest.mark.controlplane
def test_kind_values_and_manifests_are_accepted(controlplane: ControlPlane,
                                                new_namespace: Any) -> None:
    namespace = new_namespace("kind")
    release = install(controlplane.admin_kubeconfig, namespace, RELEASE, load_yaml(VALUES))
    # The names tools/e2e-kind.sh and the kind scenarios use.
    release.one("Deployment", f"{RELEASE}-operator")
    release.one("Deployment", f"{RELEASE}-api")
    release.one("Service", f"{RELEASE}-api")
    release.one("Secret", f"{RELEASE}-api-token")
    claim = release.one("PersistentVolumeClaim")["metadata"]["name"]
    inspector = load_yaml(KIND_DIR / "inspector.yaml")
    assert inspector["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim
    [configmap] = release.find("ConfigMap")
    config = yaml.safe_load(configmap["data"]["config.yaml"])
    assert config["recorder"]["imagePullPolicy"] == "Never"
    media_namespace = new_namespace("media", exact=True)
    for manifest, target in ((KIND_DIR / "media.yaml", media_namespace),
                             (KIND_DIR / "inspector.yaml", namespace)):
        done = subprocess.run(
            [KUBECTL, f"--kubeconfig={controlplane.admin_kubeconfig}", "apply",
             "--dry-run=server", "-n", target, "-f", str(manifest)],
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{manifest.name}: {done.stderr}"
    publisher = list(yaml.safe_load_all((KIND_DIR / "media.yaml").read_text()))[2]
    url = publisher["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert url == config["vhosts"]["default"]["apps"]["app"]["source"].format(
        app="app", stream="e2e")
    uninstall(controlplane.admin_kubeconfig, namespace, RELEASE)
