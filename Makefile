# The README's two commands: `make run` (the embedded mode with a demo stream) and
# `make test` (everything CI runs). Both set up a fresh machine on their own.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: run test test-fast lint system-deps venv controlplane bench e2e-kind node e2e-node clean \
	lock audit promtool s3

# `make run ARGS=--s3` also builds the local S3 store (see `s3`); plain `make run` does not.
run: venv system-deps controlplane $(if $(findstring --s3,$(ARGS)),s3)
	$(BIN)/recording-operator dev $(ARGS)

# `node` builds what the real-node suite (tests/node) needs; where a node cannot run it says
# why and the suite skips with the same reason.
test: venv system-deps controlplane promtool s3 node lint audit
	$(BIN)/pytest $(PYTEST_ARGS)

# The fast tests alone: everything but the slow end-to-end scenarios.
test-fast: venv system-deps controlplane s3
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

venv: $(STAMP)

# helm-sdkpy (a dev extra) declares Python >= 3.12 but works on 3.11: installed first with
# --ignore-requires-python, the dev extras then find it satisfied.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --ignore-requires-python "$$(grep -o 'helm-sdkpy[^"]*' pyproject.toml)"
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The image's dependencies pinned with their hashes (requirements.lock, which the Dockerfile
# installs with --require-hashes), resolved by uv from pyproject.toml's [project.dependencies]
# for every platform and Python >= 3.11. Run it after changing the dependencies
# (tests/deploy/test_supply_chain.py fails while the lock does not cover them); pins already
# in the lock are kept unless a new floor needs more: `make lock UPGRADE=1` takes the newest.
lock: venv
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command 'make lock' --quiet $(if $(UPGRADE),--upgrade) -o requirements.lock

# pip-audit on requirements.lock: a known vulnerability in a locked version fails `make test`;
# vulnerability data that cannot be had is reported as NOT AUDITED (AUDIT_STRICT=1: fails).
audit: venv
	$(BIN)/python tools/audit.py requirements.lock

# promtool (for the chart's PrometheusRule), built once from its Go module into
# ~/.cache/recording-operator/promtool/ (tools/promtool/build.sh).
promtool:
	@bash tools/promtool/build.sh > /dev/null

# Debian packages the media side needs: ffmpeg (test publisher, probing) and nginx with
# the RTMP module (the local media server). Installed only when missing.
system-deps:
	@bash tools/system-deps.sh

# Builds etcd, kube-apiserver and kube-controller-manager from their Go modules into
# ~/.cache/recording-operator/ (a no-op once built).
controlplane:
	@bash tools/k8s/build.sh

# Builds the S3-compatible store of the delivery tests and `make run ARGS=--s3` (versitygw,
# from its Go module) into ~/.cache/recording-operator/s3/ (a no-op once built).
s3:
	@bash tools/s3/build.sh >/dev/null

bench: venv system-deps controlplane s3
	$(BIN)/python -m bench

e2e-kind: venv
	bash tools/e2e-kind.sh

# The node suite's kubelet, kube-scheduler, kube-proxy, CoreDNS, crictl and images, built once
# into ~/.cache/recording-operator/node/ (tools/node/); says why and does nothing where a real
# node cannot run (not root, no containerd).
node: venv system-deps controlplane
	@bash tools/node/prepare.sh

# The chart's image on a real one-node cluster (kubelet + containerd), verbosely. The limits
# figures of docs/benchmarks.md: RECORDING_OPERATOR_NODE_LIMITS_SECONDS=300 make e2e-node
e2e-node: node
	$(BIN)/pytest tests/node -m node -v -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
