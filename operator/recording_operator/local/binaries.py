"""Finding (and, from a checkout or an installed wheel, building) the control plane's binaries.

The binaries are built by ``tools/k8s/build.sh`` from the Go modules pinned in
``tools/k8s/go.mod`` into ``~/.cache/recording-operator/controlplane/<versions>/``. An explicit
directory in ``RECORDING_OPERATOR_CONTROLPLANE_BIN`` wins, for machines that bring their own.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import recording_operator

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
ENV_DIR = "RECORDING_OPERATOR_CONTROLPLANE_BIN"


class BinariesMissing(RuntimeError):
    """The control plane's binaries are not built and cannot be built here."""


def cache_root() -> Path:
    explicit = os.environ.get("RECORDING_OPERATOR_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "recording-operator"


def checkout_root() -> Path | None:
    """The source checkout this package runs from (an editable install), if any."""
    package_dir = Path(recording_operator.__file__).resolve().parent
    root = package_dir.parent.parent
    return root if (root / "tools" / "k8s" / "build.sh").is_file() else None


def _complete(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in BINARIES)


def recipe() -> Path | None:
    """The build script: the checkout's ``tools/k8s/build.sh``, else the copy the package
    ships (``data/k8s/``), so ``recording-operator dev`` from an installed wheel builds too."""
    root = checkout_root()
    if root is not None:
        return root / "tools" / "k8s" / "build.sh"
    packaged = Path(recording_operator.__file__).resolve().parent / "data" / "k8s" / "build.sh"
    return packaged if packaged.is_file() else None


def build(script: Path) -> Path:
    """Runs the build script, streaming its progress, and returns the binaries' directory."""
    result = subprocess.run(
        ["bash", str(script)], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise BinariesMissing(
            f"building the control plane failed (exit {result.returncode}); the Go errors are "
            f"above. Re-run with: bash {script}"
        )
    return Path(result.stdout.strip().splitlines()[-1])


def find(build_if_missing: bool = True) -> Path:
    """The directory holding etcd, kube-apiserver and kube-controller-manager."""
    explicit = os.environ.get(ENV_DIR)
    if explicit:
        directory = Path(explicit)
        if not _complete(directory):
            raise BinariesMissing(f"{ENV_DIR}={explicit} lacks one of {', '.join(BINARIES)}")
        return directory
    script = recipe()
    if script is not None and build_if_missing:
        return build(script)
    built = sorted(
        (d for d in (cache_root() / "controlplane").glob("*") if _complete(d)),
        key=lambda d: d.stat().st_mtime,
    )
    if built:
        return built[-1]
    raise BinariesMissing(
        "the local Kubernetes control plane is not built: run `make controlplane` in a "
        f"recording-operator checkout (needs Go), or set {ENV_DIR} to a directory with "
        + ", ".join(BINARIES)
    )
