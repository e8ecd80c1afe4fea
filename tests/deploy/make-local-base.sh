#!/usr/bin/env bash
# Makes a Python base image for the Dockerfile from Debian's packages, for machines whose Docker
# engine cannot pull images (no registry reachable) but can reach a Debian mirror:
#
#   bash tests/deploy/make-local-base.sh [TAG]          # default TAG local/python:3.11-bookworm
#   RECORDING_OPERATOR_PYTHON_IMAGE=local/python:3.11-bookworm \
#   RECORDING_OPERATOR_DOCKER_BUILD_ARGS=--network=host .venv/bin/pytest tests/deploy/test_image.py
#
# A bookworm minbase rootfs (debootstrap) with python3 and python3-venv (Python 3.11, as the
# official python:3.11-slim), `docker import`ed. The host's CA bundle and pip.conf go in too, so
# builds behind a TLS-inspecting proxy verify as the host does. Needs root, debootstrap, docker.
set -euo pipefail
TAG=${1:-local/python:3.11-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS=$(mktemp -d -t python-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$ROOTFS" "$MIRROR" >/dev/null
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$ROOTFS/etc/pip.conf"; fi
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$TAG"
echo "made $TAG"
