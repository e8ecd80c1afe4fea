"""Installs the chart into the e2e-kind cluster with the real Helm library, so the suite needs
no helm binary. Without --wait: kind's local-path claim binds only once a pod uses it, so
tools/e2e-kind.sh waits for the rollouts itself. Run by tools/e2e-kind.sh:

    python -m tests.deploy.kind.install --kubeconfig K --namespace N --image-tag T
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import helm_sdkpy
import yaml

from tests.deploy.helm import CHART, deep_merge

VALUES = Path(__file__).with_name("values.yaml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--release", default="recording-operator")
    parser.add_argument("--image-repository", default="recording-operator")
    parser.add_argument("--image-tag", default="e2e")
    args = parser.parse_args(argv)
    values = deep_merge(yaml.safe_load(VALUES.read_text()), {
        "image": {"repository": args.image_repository, "tag": args.image_tag}})
    config = helm_sdkpy.Configuration(namespace=args.namespace, kubeconfig=args.kubeconfig)
    release = asyncio.run(helm_sdkpy.Install(config).run(
        args.release, str(CHART), values=values, create_namespace=True, wait=False,
        timeout=300))
    print(release["info"]["notes"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
