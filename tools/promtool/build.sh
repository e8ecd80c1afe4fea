#!/usr/bin/env bash
# Builds promtool from the Prometheus Go module pinned in tools/promtool/go.mod, into a cache
# directory keyed by that version and the Go toolchain. A no-op once built. The tests use it to
# check that every expression in the chart's PrometheusRule parses (`promtool check rules`).
# Built with -tags remove_all_sd: promtool's service-discovery plugins (AWS, Azure, GCE, ...) are
# not needed to parse rules and would double the build on a small machine.
# Prints the path of the promtool binary on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
. "$here/../lib/gobuild.sh"
gobuild_require_go promtool 1.26
version=$(awk '$1=="github.com/prometheus/prometheus" && $2 ~ /^v/ {print $2; exit}' go.mod)
go_version=$(go env GOVERSION)
recipe=1
key="prometheus-${version}_${go_version}_r${recipe}"
out="$(gobuild_cache)/promtool/$key"
gobuild_if_built promtool "$out" promtool
mkdir -p "$out.partial"
echo "promtool: building $key (first time only; takes a few minutes on a small machine)" >&2
start=$(date +%s)
go build -tags remove_all_sd -trimpath -o "$out.partial/promtool" \
  github.com/prometheus/prometheus/cmd/promtool 2> "$out.partial/build.log" \
  || gobuild_failed promtool "$out.partial/build.log"
gobuild_publish promtool "$out" "$start" promtool
