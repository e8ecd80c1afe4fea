#!/usr/bin/env bash
# Builds the node's binaries for the node suite (tests/node) into the cache, keyed by their
# versions and the Go toolchain; a no-op when they are there:
#   kubelet, kube-scheduler, kube-proxy  from k8s.io/kubernetes with tools/k8s's module and pins
#                                        (the same version and build cache as the control plane)
#   coredns                              from github.com/coredns/coredns (tools/node/coredns)
#   crictl                               from sigs.k8s.io/cri-tools
# Prints the directory holding them on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
k8s="$here/../k8s"
command -v go >/dev/null 2>&1 || { echo "node: Go is not installed: install Go 1.25 or later (https://go.dev/doc/install)" >&2; exit 1; }
k8s_version=$(awk '$1=="k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$k8s/go.mod")
# A required module's version in go.mod, in a require block or on a `require` line.
version_of() { awk -v m="$1" '{ if ($1 == "require") { $1 = ""; $0 = $0 } }
  $1 == m && $2 ~ /^v/ { print $2; exit }' "$2"; }
coredns_version=$(version_of github.com/coredns/coredns "$here/go.mod")
crictl_version=$(version_of sigs.k8s.io/cri-tools "$here/go.mod")
# The recipe's revision and CoreDNS's plugin list are part of the key: a change rebuilds.
recipe="1-$(sha1sum "$here/coredns/main.go" | cut -c1-8)"
key="kubernetes-${k8s_version}_coredns-${coredns_version}_crictl-${crictl_version}_$(go env GOVERSION)_r${recipe}"
cache="${RECORDING_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recording-operator}"
out="$cache/node/bin/$key"
bins=(kubelet kube-scheduler kube-proxy coredns crictl)
# One build at a time: a second caller waits, then finds the binaries.
mkdir -p "$cache/node/bin"
exec 9>"$cache/node/bin/.lock"
flock 9
missing=0
for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing=1; done
if [ "$missing" -eq 0 ]; then
  echo "node: up to date in $out" >&2
  echo "$out"
  exit 0
fi
mkdir -p "$out.partial"
echo "node: building $key (first time only)" >&2
start=$(date +%s)
# The version stamp tools/k8s/build.sh gives the control plane, so the node reports it too.
minor=$(echo "$k8s_version" | cut -d. -f2)
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=${k8s_version}"
k8s_ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}"
k8s_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
log="$out.partial/build.log"
build() {  # build DIR LDFLAGS PACKAGES...
  local dir=$1 flags=$2; shift 2
  if ! (cd "$dir" && CGO_ENABLED=0 go build -ldflags "$flags" -o "$out.partial/" "$@") >>"$log" 2>&1; then
    echo "node: the Go build of $* failed; its errors:" >&2
    tail -40 "$log" >&2
    exit 1
  fi
}
build "$k8s" "$k8s_ldflags" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kube-proxy
build "$here" "-X github.com/coredns/coredns/coremain.GitCommit=${coredns_version}" ./coredns
build "$here" "-X sigs.k8s.io/cri-tools/pkg/version.Version=${crictl_version}" \
  sigs.k8s.io/cri-tools/cmd/crictl
for b in "${bins[@]}"; do [ -x "$out.partial/$b" ] || { echo "node: $b was not produced" >&2; exit 1; }; done
rm -rf "$out"
mv "$out.partial" "$out"
echo "node: built in $(( $(date +%s) - start ))s into $out" >&2
echo "$out"
