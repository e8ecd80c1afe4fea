"""Fixtures shared by the whole suite: one real local control plane per test session, a fresh
namespace per test, each component's RBAC rules as the chart ships them, and one real
S3-compatible store (versitygw, built once from its Go module) per session on loopback."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from recording_operator.local.controlplane import ControlPlane
from recording_operator.local.s3server import S3Server

ROOT = Path(__file__).resolve().parent.parent
RBAC_FILE = ROOT / "charts" / "recording-operator" / "files" / "rbac.yaml"


@pytest.fixture(scope="session")
def controlplane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane.start(tmp_path_factory.mktemp("controlplane"))
    try:
        plane.apply_crds()
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def namespace(controlplane: ControlPlane) -> Iterator[str]:
    """A fresh namespace per test, so tests never see each other's objects."""
    name = f"t-{secrets.token_hex(4)}"
    controlplane.create_namespace(name)
    yield name
    controlplane.delete_namespace(name)


@pytest.fixture(scope="session")
def rbac_rules() -> dict[str, list[dict[str, Any]]]:
    """Each component's rules (keys: operator, api, recorder), from the chart's single source."""
    rules: dict[str, list[dict[str, Any]]] = yaml.safe_load(RBAC_FILE.read_text())
    return rules


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server.launch(tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()
