"""Fixtures for delivery: a fresh bucket per test in the session's real S3-compatible store
(``s3``, in tests/conftest.py), a real signed-webhook receiver, and a recordings root."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from recording_operator.local.s3server import S3Server

from .support import Receiver


@pytest.fixture
def bucket(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the delivery process finds the store's credentials in the standard AWS
    variables, as in the embedded mode."""
    name = f"rec-{secrets.token_hex(4)}"
    s3.create_bucket(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_REGION", s3.region)
    return name


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver().start()
    try:
        yield hook
    finally:
        hook.stop()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "recordings"
    path.mkdir()
    return path
