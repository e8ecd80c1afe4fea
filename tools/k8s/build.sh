#!/usr/bin/env bash
# Builds the local control plane's binaries (etcd, kube-apiserver, kube-controller-manager)
# from the published Go modules pinned in tools/k8s/go.mod, into a cache directory keyed by
# their versions and the Go toolchain. A no-op when they are already there.
# Prints the directory holding the binaries on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
command -v go >/dev/null 2>&1 || { echo "controlplane: Go is not installed: install Go 1.25 or later (https://go.dev/doc/install)" >&2; exit 1; }
k8s_version=$(awk '$1=="k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' go.mod)
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2; exit}' go.mod)
go_version=$(go env GOVERSION)
# The recipe's own revision is part of the key, so a change in how they are built rebuilds them.
recipe=2
key="kubernetes-${k8s_version}_etcd-${etcd_version}_${go_version}_r${recipe}"
# Stamp the Kubernetes version into the binaries, as the release build does; otherwise the
# API server reports v0.0.0-master and tools that check kubeVersion (Helm) refuse it.
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-X k8s.io/component-base/version.gitVersion=${k8s_version}"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
cache="${RECORDING_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recording-operator}"
out="$cache/controlplane/$key"
bins=(etcd kube-apiserver kube-controller-manager)
# One build at a time (tests, make targets and people may start this at once): the others wait
# for it and then find the binaries built.
mkdir -p "$cache/controlplane"
exec 9>"$cache/controlplane/.lock"
if ! flock -n 9; then
  echo "controlplane: another build is under way; waiting for it" >&2
  flock 9
fi
missing=0
for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing=1; done
if [ "$missing" -eq 0 ]; then
  echo "controlplane: up to date in $out" >&2
  echo "$out"
  exit 0
fi
mkdir -p "$out.partial"
echo "controlplane: building $key (first time only; takes a while on a small machine)" >&2
start=$(date +%s)
log="$out.partial/build.log"
# -v names each package as it is compiled; show a running count instead of thousands of lines.
if ! go build -v -ldflags "$ldflags" -o "$out.partial/" \
      go.etcd.io/etcd/server/v3 \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager 2> >(tee "$log" | awk '
        /^[a-z0-9.]+\// { n++; if (n % 200 == 0) { printf "controlplane: compiled %d packages\n", n > "/dev/stderr" } }
      '); then
  echo "controlplane: the Go build failed; its errors:" >&2
  grep -vE '^[a-zA-Z0-9._/-]+$' "$log" | tail -40 >&2
  exit 1
fi
[ -x "$out.partial/server" ] && mv "$out.partial/server" "$out.partial/etcd"
for b in "${bins[@]}"; do [ -x "$out.partial/$b" ] || { echo "controlplane: $b was not produced" >&2; exit 1; }; done
rm -rf "$out"
mv "$out.partial" "$out"
echo "controlplane: built in $(( $(date +%s) - start ))s into $out" >&2
echo "$out"
