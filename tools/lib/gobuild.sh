# Sourced by tools/promtool/build.sh and tools/s3/build.sh: the steps their Go builds share.
# Each builds into "$(gobuild_cache)/<tool>/<key>/" by way of "<key>.partial/", so an interrupted
# build never looks finished; the key names the versions and the Go toolchain, so a change rebuilds.
# (tools/k8s/build.sh stays self-contained: the wheel ships it alone, as data/k8s/build.sh.)

# The cache's root, as recording_operator.local.binaries.cache_root() finds it.
gobuild_cache() {
  echo "${RECORDING_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recording-operator}"
}

# gobuild_require_go NAME VERSION: stops with a hint when Go is not installed.
gobuild_require_go() {
  command -v go >/dev/null 2>&1 || { echo "$1: Go is not installed: install Go $2 or later (https://go.dev/doc/install)" >&2; exit 1; }
}

# gobuild_if_built NAME OUT BINARY: when OUT/BINARY is built, says so, prints its path and exits.
gobuild_if_built() {
  if [ -x "$2/$3" ]; then
    echo "$1: up to date in $2" >&2
    echo "$2/$3"
    exit 0
  fi
}

# gobuild_failed NAME LOG: shows the end of the Go build's log and stops.
gobuild_failed() {
  echo "$1: the Go build failed; its errors:" >&2
  tail -40 "$2" >&2
  exit 1
}

# gobuild_publish NAME OUT START BINARY: moves OUT.partial to OUT, says how long it took since
# START (seconds since the epoch) and prints OUT/BINARY.
gobuild_publish() {
  rm -rf "$2"
  mv "$2.partial" "$2"
  echo "$1: built in $(( $(date +%s) - $3 ))s into $2" >&2
  echo "$2/$4"
}
