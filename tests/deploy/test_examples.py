"""The example Recordings, applied as a kubectl user would (server-side apply, dry run) to the
real API server with the real CRD: each one is accepted, and each matches the configs it is
documented with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from recording_operator.local.controlplane import ControlPlane
from recording_operator.model.config import default_config, parse_config

from .helm import EXAMPLES, FULL_VALUES, load_yaml

pytestmark = pytest.mark.controlplane
KUBECTL = str(Path(sys.executable).parent / "kubectl")
RECORDINGS = sorted(EXAMPLES.glob("recording-*.yaml"))


def kubectl(plane: ControlPlane, *args: str, stdin: str | None = None) -> (
    subprocess.CompletedProcess[str]
):
    return subprocess.run([KUBECTL, f"--kubeconfig={plane.admin_kubeconfig}", *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_there_is_an_example_of_each_kind_of_recording() -> None:
    specs = [load_yaml(p)["spec"] for p in RECORDINGS]
    assert any("interval" not in s and "schedule" not in s for s in specs), "single file"
    assert any(s.get("interval") for s in specs), "interval split"
    assert any(s.get("schedule") for s in specs), "schedule split"
    assert any(s["stream"].get("variantNames") for s in specs), "variant selection"


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_example_is_accepted_by_the_api_server(controlplane: ControlPlane, namespace: str,
                                               path: Path) -> None:
    done = kubectl(controlplane, "apply", "--server-side", "--dry-run=server", "-n", namespace,
                   "-f", str(path), "-o", "yaml")
    assert done.returncode == 0, done.stderr
    stored = yaml.safe_load(done.stdout)
    assert stored["kind"] == "Recording"
    assert stored["spec"]["segmentationRule"] in ("continuity", "discontinuity")  # defaulted


def test_dry_run_really_validates(controlplane: ControlPlane, namespace: str) -> None:
    """The check above can fail: an example made wrong is refused with the CRD's message."""
    broken: dict[str, Any] = load_yaml(EXAMPLES / "recording-interval.yaml")
    broken["spec"]["schedule"] = "0 0 *"
    done = kubectl(controlplane, "apply", "--server-side", "--dry-run=server", "-n", namespace,
                   "-f", "-", stdin=yaml.safe_dump(broken))
    assert done.returncode != 0
    assert "[Interval] and [Schedule] cannot be used at the same time" in done.stderr


def test_examples_name_apps_and_variants_the_configs_offer() -> None:
    full = load_yaml(FULL_VALUES)["config"]
    config = parse_config({"vhosts": full["vhosts"], "timezone": full["timezone"]})
    for path in RECORDINGS:
        spec = load_yaml(path)["spec"]
        assert default_config().app(spec["vhost"], spec["app"]) is not None, path.name
        app = config.app(spec["vhost"], spec["app"])
        assert app is not None, path.name
        for variant in spec["stream"].get("variantNames", []):
            assert variant in app.variants, f"{path.name}: {variant} is not in values-full.yaml"
