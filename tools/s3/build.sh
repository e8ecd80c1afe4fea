#!/usr/bin/env bash
# Builds the S3-compatible server the delivery tests and `make run ARGS=--s3` use: versitygw
# (github.com/versity/versitygw, its POSIX backend serves a directory as buckets), from its
# published Go module at a pinned version, into a cache directory keyed by that version and the
# Go toolchain. A no-op when it is already there. Prints the binary's path on its last line.
#
# Why versitygw and not MinIO's server module: versitygw's module needs ~90 dependencies
# (MinIO's several hundred), builds in a few minutes on two cores, and is a single static binary
# of ~40 MB; `go install module@version` pins every dependency to that release's own go.mod.
set -euo pipefail
command -v go >/dev/null 2>&1 || { echo "s3: Go is not installed: install Go 1.25 or later (https://go.dev/doc/install)" >&2; exit 1; }
version=v1.8.0
go_version=$(go env GOVERSION)
recipe=1
key="versitygw-${version}_${go_version}_r${recipe}"
cache="${RECORDING_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recording-operator}"
out="$cache/s3/$key"
if [ -x "$out/versitygw" ]; then
  echo "s3: up to date in $out" >&2
  echo "$out/versitygw"
  exit 0
fi
mkdir -p "$out.partial"
echo "s3: building $key (first time only; a few minutes on a small machine)" >&2
start=$(date +%s)
if ! GOBIN="$out.partial" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
      "github.com/versity/versitygw/cmd/versitygw@${version}" 2> "$out.partial/build.log"; then
  echo "s3: the Go build failed; its errors:" >&2
  tail -40 "$out.partial/build.log" >&2
  exit 1
fi
[ -x "$out.partial/versitygw" ] || { echo "s3: versitygw was not produced" >&2; exit 1; }
rm -rf "$out"
mv "$out.partial" "$out"
echo "s3: built in $(( $(date +%s) - start ))s into $out" >&2
echo "$out/versitygw"
