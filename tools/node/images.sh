#!/usr/bin/env bash
# Builds the node suite's images without a registry, as OCI archives that containerd imports
# (`ctr -n k8s.io images import`), into the cache; each archive is named by a hash of its inputs,
# so only what changed is rebuilt:
#
#   base   Debian bookworm (debootstrap minbase) with python3 and python3-venv: the Dockerfile's
#          PYTHON_IMAGE, the same Python 3.11 as the official python:3.11-slim-bookworm
#   pause  the pod sandbox image: one static binary (tools/node/pause.c) that waits for a signal
#   app    the Dockerfile's image on that base, built by buildah (vfs storage in the cache)
#   media  tests/deploy/kind/media (nginx-rtmp + ffmpeg) on the same base
#
# Needs root, debootstrap, buildah, gcc (Debian packages; tools/system-deps.sh installs them) and
# a reachable Debian mirror and PyPI. Prints the directory holding the archives and their
# names (images.env) on its last line.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${RECORDING_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/recording-operator}/node/images"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"
# RECORDING_OPERATOR_NODE_KEEP_IMAGES=1: the images last built, even if their inputs changed
# since (while iterating on the tests themselves).
if [ "${RECORDING_OPERATOR_NODE_KEEP_IMAGES:-0}" = 1 ] && [ -s "$cache/images.env" ]; then
  echo "$cache"
  exit 0
fi
exec 9>"$cache/.lock"
flock 9
say() { echo "node-images: $*" >&2; }
B=(buildah --root "$cache/buildah/root" --runroot "$cache/buildah/run" --storage-driver vfs)

# A hash of files (content and path), for the archives' names.
digest() { (cd "$root" && find "$@" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' \
  ! -path '*.egg-info/*' -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-12); }

# --- base ----------------------------------------------------------------------------------
base_key="bookworm-python3-r1"
base_ref="localhost/recording-operator-base:$base_key"
if ! "${B[@]}" inspect --type image "$base_ref" >/dev/null 2>&1; then
  say "making the base $base_ref with debootstrap (first time only)"
  rootfs=$(mktemp -d -p "$cache" rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # The host's CA bundle and pip.conf, so pip in the build verifies TLS as the host does.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$rootfs/etc/pip.conf"; fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  ctr_id=$("${B[@]}" from scratch)
  mnt=$("${B[@]}" mount "$ctr_id")
  tar -C "$rootfs" -c . | tar -C "$mnt" -x
  "${B[@]}" umount "$ctr_id" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 "$ctr_id"
  "${B[@]}" commit --quiet "$ctr_id" "$base_ref" >/dev/null
  "${B[@]}" rm "$ctr_id" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi

# Writes image $1 as the OCI archive $2 named $3 (the name pods use), unless already there.
export_archive() {
  if [ ! -s "$2" ]; then
    "${B[@]}" push --quiet "$1" "oci-archive:$2.partial:$3" >/dev/null
    mv "$2.partial" "$2"
  fi
}

# --- pause ---------------------------------------------------------------------------------
pause_key=$(digest tools/node/pause.c)
pause_name="docker.io/library/recording-operator-pause:$pause_key"
pause_tar="$cache/pause-$pause_key.tar"
if [ ! -s "$pause_tar" ]; then
  say "building the sandbox image $pause_name"
  work=$(mktemp -d -p "$cache" pause.XXXXXX)
  gcc -static -Os -o "$work/pause" "$root/tools/node/pause.c"
  ctr_id=$("${B[@]}" from scratch)
  "${B[@]}" copy --quiet "$ctr_id" "$work/pause" /pause >/dev/null
  "${B[@]}" config --entrypoint '["/pause"]' --cmd '' "$ctr_id"
  "${B[@]}" commit --quiet "$ctr_id" "$pause_name" >/dev/null
  "${B[@]}" rm "$ctr_id" >/dev/null
  rm -rf "$work"
  export_archive "$pause_name" "$pause_tar" "$pause_name"
fi

# --- app and media -------------------------------------------------------------------------
app_key=$(digest Dockerfile .dockerignore pyproject.toml README.md operator)
app_name="docker.io/library/recording-operator:e2e"
app_tar="$cache/app-$app_key.tar"
if [ ! -s "$app_tar" ]; then
  say "building $app_name from the Dockerfile on $base_ref (inputs $app_key)"
  start=$(date +%s)
  "${B[@]}" build --quiet --layers --isolation chroot --network host \
    --build-arg "PYTHON_IMAGE=$base_ref" \
    --build-arg "REVISION=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    -f "$root/Dockerfile" -t "$app_name" "$root" >"$cache/app-build.log" 2>&1 \
    || { tail -30 "$cache/app-build.log" >&2; exit 1; }
  export_archive "$app_name" "$app_tar" "$app_name"
  say "built $app_name in $(( $(date +%s) - start ))s"
fi
media_key=$(digest tests/deploy/kind/media)
media_name="docker.io/library/recording-operator-e2e-media:latest"
media_tar="$cache/media-$media_key.tar"
if [ ! -s "$media_tar" ]; then
  say "building $media_name on $base_ref (inputs $media_key)"
  "${B[@]}" build --quiet --layers --isolation chroot --network host \
    --build-arg "DEBIAN_IMAGE=$base_ref" -t "$media_name" "$root/tests/deploy/kind/media" \
    >"$cache/media-build.log" 2>&1 || { tail -30 "$cache/media-build.log" >&2; exit 1; }
  export_archive "$media_name" "$media_tar" "$media_name"
fi

# Old archives go; buildah's layer cache (vfs: a full copy per layer) is pruned past 20 GB.
for role in pause app media; do
  keep=$(basename "$(eval echo "\$${role}_tar")")
  find "$cache" -maxdepth 1 -name "$role-*.tar" ! -name "$keep" -delete
done
if [ "$(du -s --block-size=1G "$cache/buildah" | cut -f1)" -gt 20 ]; then
  say "pruning buildah's layer cache"
  "${B[@]}" rmi --prune >/dev/null 2>&1 || true
fi

cat >"$cache/images.env" <<ENV
pause=$pause_tar $pause_name
app=$app_tar $app_name
media=$media_tar $media_name
ENV
echo "$cache"
