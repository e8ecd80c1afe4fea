#!/usr/bin/env bash
# make node: builds what the node suite (tests/node) needs, once, into the cache: the kubelet,
# kube-scheduler, kube-proxy, CoreDNS and crictl (build.sh), and its images (images.sh).
# Where a node cannot run (tests/node/cluster.py says why), prints the reason and does nothing:
# that suite then skips with the same reason.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${VENV:-.venv}/bin/python
reason=$("$python" -c 'from tests.node.cluster import unavailable; print(unavailable() or "")')
if [ -n "$reason" ]; then
  echo "node: skipped: $reason"
  exit 0
fi
bash tools/node/build.sh >/dev/null
bash tools/node/images.sh >/dev/null
