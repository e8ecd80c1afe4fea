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
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/gobuild.sh"
gobuild_require_go s3 1.25
version=v1.8.0
go_version=$(go env GOVERSION)
recipe=1
key="versitygw-${version}_${go_version}_r${recipe}"
out="$(gobuild_cache)/s3/$key"
gobuild_if_built s3 "$out" versitygw
mkdir -p "$out.partial"
echo "s3: building $key (first time only; a few minutes on a small machine)" >&2
start=$(date +%s)
GOBIN="$out.partial" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
  "github.com/versity/versitygw/cmd/versitygw@${version}" 2> "$out.partial/build.log" \
  || gobuild_failed s3 "$out.partial/build.log"
[ -x "$out.partial/versitygw" ] || { echo "s3: versitygw was not produced" >&2; exit 1; }
gobuild_publish s3 "$out" "$start" versitygw
