"""``recording-operator controlplane build|up``: the local Kubernetes control plane by hand.

``up`` is for poking at the real API server with kubectl while developing; the tests and
``recording-operator dev`` start their own.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["build", "up"],
                        help="build: build the binaries (a no-op when built); up: run until Ctrl-C")
    parser.add_argument("--data-dir", type=Path, default=Path("data/controlplane"),
                        help="where etcd's data, certificates and kubeconfigs go (for up)")
    parser.add_argument("--port", type=int, default=None,
                        help="kube-apiserver's port on 127.0.0.1 (default: a free one)")


def run(args: argparse.Namespace) -> int:
    from recording_operator.local import binaries
    from recording_operator.local.controlplane import ControlPlane, ControlPlaneError

    try:
        if args.action == "build":
            print(binaries.find())
            return 0
        plane = ControlPlane.start(args.data_dir.resolve(), api_port=args.port)
    except (binaries.BinariesMissing, ControlPlaneError) as exc:
        print(f"recording-operator: {exc}")
        return 1
    try:
        plane.apply_crds()
        print(f"control plane up at {plane.url}")
        print(f"  export KUBECONFIG={plane.admin_kubeconfig}")
        print("  kubectl get recordings -A")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        plane.stop()
    return 0
