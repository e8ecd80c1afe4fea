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
command -v go >/dev/null 2>&1 || { echo "promtool: Go is not installed: install Go 1.26 or later (https://go.dev/doc/install)" >&2; exit 1; }
version=$(awk '$1=="github.com/prometheus/prometheus" && $2 ~ /^v/ {print $2; exit}' go.mod)
go_version=$(go env GOVERSION)
recipe=1
key="prometheus-${version}_${go_version}_r${recipe}"
cache="${RECORDING_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recording-operator}"
out="$cache/promtool/$key"
if [ -x "$out/promtool" ]; then
  echo "promtool: up to date in $out" >&2
  echo "$out/promtool"
  exit 0
fi
mkdir -p "$out.partial"
echo "promtool: building $key (first time only; takes a few minutes on a small machine)" >&2
start=$(date +%s)
if ! go build -tags remove_all_sd -trimpath -o "$out.partial/promtool" \
      github.com/prometheus/prometheus/cmd/promtool 2> "$out.partial/build.log"; then
  echo "promtool: the Go build failed; its errors:" >&2
  tail -40 "$out.partial/build.log" >&2
  exit 1
fi
rm -rf "$out"
mv "$out.partial" "$out"
echo "promtool: built in $(( $(date +%s) - start ))s into $out" >&2
echo "$out/promtool"
