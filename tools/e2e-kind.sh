#!/usr/bin/env bash
# make e2e-kind: the end-to-end scenarios on a real Kubernetes cluster.
#
# Creates a kind cluster, builds the image from the Dockerfile and a small media image
# (nginx-rtmp + ffmpeg), loads both into kind, deploys the media server and a publisher,
# installs the chart (with the real Helm library from the virtualenv: no helm binary needed),
# runs tests/deploy/kind/ against it, and deletes the cluster (KEEP_CLUSTER=1 keeps it).
#
# Needs: Docker (a running engine), kind, and network access for the base images (or
# PYTHON_IMAGE / DEBIAN_IMAGE naming local ones). kubectl comes from the virtualenv.
#
#   make e2e-kind
#   KEEP_CLUSTER=1 PYTEST_ARGS="-k interval" make e2e-kind
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${KIND_CLUSTER:-recording-operator-e2e}
IMAGE_TAG=${IMAGE_TAG:-e2e}
IMAGE=recording-operator:${IMAGE_TAG}
MEDIA_IMAGE=recording-operator-e2e-media:latest
PYTHON_IMAGE=${PYTHON_IMAGE:-python:3.11-slim-bookworm}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-debian:bookworm-slim}
NAMESPACE=${NAMESPACE:-recording-operator}
BIN=${VENV:-.venv}/bin
WORK=$(mktemp -d -t e2e-kind.XXXXXX)
export KUBECONFIG=$WORK/kubeconfig

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'e2e-kind: %s\n' "$*" >&2; exit 2; }

command -v docker >/dev/null || fail "docker is not installed (https://docs.docker.com/engine/install/)"
command -v kind >/dev/null || fail "kind is not installed (go install sigs.k8s.io/kind@latest)"
docker info >/dev/null 2>&1 || fail "no Docker engine answers: start dockerd (or Docker Desktop)"
[ -x "$BIN/python" ] || fail "no virtualenv at $BIN: run make venv"
KUBECTL=$BIN/kubectl
[ -x "$KUBECTL" ] || KUBECTL=$(command -v kubectl) || fail "kubectl not found (make venv installs one)"

cleanup() {
  status=$?
  if [ "$status" -ne 0 ] && [ -s "$KUBECONFIG" ]; then
    step "diagnostics"
    "$KUBECTL" get pods,rec -A -o wide || true
    "$KUBECTL" logs -n "$NAMESPACE" deployment/recording-operator-operator --tail=100 || true
  fi
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
    echo "keeping cluster $CLUSTER (KUBECONFIG=$KUBECONFIG); delete it with: kind delete cluster --name $CLUSTER"
  else
    step "deleting cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" || true
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT

step "creating kind cluster $CLUSTER"
kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" --wait 180s

step "building $IMAGE (base $PYTHON_IMAGE) and $MEDIA_IMAGE"
docker build --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" \
  --build-arg "REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  -t "$IMAGE" .
docker build --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" -t "$MEDIA_IMAGE" tests/deploy/kind/media
kind load docker-image --name "$CLUSTER" "$IMAGE" "$MEDIA_IMAGE"

step "deploying the media server and a publisher (namespace media)"
"$KUBECTL" create namespace media
"$KUBECTL" apply -n media -f tests/deploy/kind/media.yaml
"$KUBECTL" rollout status -n media deployment/media --timeout=180s
"$KUBECTL" rollout status -n media deployment/publisher --timeout=180s

step "installing the chart (namespace $NAMESPACE)"
"$BIN/python" -m tests.deploy.kind.install --kubeconfig "$KUBECONFIG" \
  --namespace "$NAMESPACE" --image-tag "$IMAGE_TAG"
# The inspector mounts the recordings claim (and so binds it: local-path waits for a consumer).
"$KUBECTL" apply -n "$NAMESPACE" -f tests/deploy/kind/inspector.yaml
"$KUBECTL" rollout status -n "$NAMESPACE" deployment/recording-operator-operator --timeout=180s
"$KUBECTL" rollout status -n "$NAMESPACE" deployment/recording-operator-api --timeout=180s
"$KUBECTL" wait -n "$NAMESPACE" --for=condition=Ready pod/inspector --timeout=180s

step "running the end-to-end scenarios"
RECORDING_OPERATOR_KIND_KUBECONFIG=$KUBECONFIG \
RECORDING_OPERATOR_KIND_NAMESPACE=$NAMESPACE \
RECORDING_OPERATOR_KIND_STREAM=e2e \
  "$BIN/pytest" tests/deploy/kind -m kind -v ${PYTEST_ARGS:-}
