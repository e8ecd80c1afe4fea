"""One translation of the Kubernetes API's failures, whichever client met them."""

from __future__ import annotations

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from recording_operator.kube.errors import (
    Conflict,
    Expired,
    Forbidden,
    Invalid,
    KubeError,
    NotFound,
    TimedOut,
    Unavailable,
    from_status,
    translate,
)

STATUS = b'{"kind":"Status","message":"recordings \\"x\\" already exists","code":409}'


@pytest.mark.parametrize(("status", "kind"), [
    (404, NotFound), (409, Conflict), (400, Invalid), (422, Invalid), (401, Forbidden),
    (403, Forbidden), (410, Expired), (429, Unavailable), (500, Unavailable),
    (503, Unavailable),
])
def test_each_status_has_one_kind(status: int, kind: type[KubeError]) -> None:
    error = from_status(status, None, reason="Reason")
    assert type(error) is kind
    assert error.status == status


def test_the_api_servers_own_words_are_kept_and_what_we_were_doing_is_said() -> None:
    exc = ApiException(status=409, reason="Conflict")
    exc.body = STATUS
    error = translate(exc, "creating the Recording")
    assert isinstance(error, Conflict)
    assert error.detail == '409 Conflict: recordings "x" already exists'
    assert str(error) == f"creating the Recording: {error.detail}"


def test_retry_after_is_read_from_the_answer() -> None:
    error = from_status(429, b"{}", headers={"Retry-After": "3"})
    assert isinstance(error, Unavailable) and error.retry_after == 3.0
    assert from_status(429, b"not json", headers={"Retry-After": "soon"}).retry_after == 0.0


def test_no_answer_is_unavailable_without_a_status() -> None:
    timed_out = translate(TimeoutError(), "listing Recordings")
    assert isinstance(timed_out, TimedOut) and timed_out.status is None
    assert str(timed_out) == "listing Recordings: no answer in time"
    refused = translate(ConnectionRefusedError(111, "Connection refused"))
    assert type(refused) is Unavailable and refused.status is None
    assert "Connection refused" in refused.detail


def test_a_kube_error_passes_through_unchanged() -> None:
    error = NotFound("gone", status=404)
    assert translate(error, "anything") is error
