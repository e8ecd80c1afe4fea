"""Standard Webhooks signatures: the spec's own example, and what a receiver refuses."""

from __future__ import annotations

import pytest

from recording_operator.delivery import signing

from .support import check_signature

# The example of the Standard Webhooks specification (and of its reference libraries).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specification_example() -> None:
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_headers_verify_with_an_independent_check() -> None:
    headers = signing.headers(SPEC_SECRET, "evt-1", b"{}")
    check_signature(SPEC_SECRET, headers, b"{}")
    signing.verify(SPEC_SECRET, headers, b"{}")


@pytest.mark.parametrize("change", ["body", "id", "secret", "stale"])
def test_a_changed_message_is_refused(change: str) -> None:
    headers = signing.headers(SPEC_SECRET, "evt-1", b"{}", now=SPEC_TIMESTAMP)
    body, secret, now = b"{}", SPEC_SECRET, float(SPEC_TIMESTAMP)
    if change == "body":
        body = b'{"a": 1}'
    elif change == "id":
        headers["webhook-id"] = "evt-2"
    elif change == "secret":
        secret = "whsec_" + "QUJD" * 8
    else:
        now += 3600
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, headers, body, now=now)


def test_a_plain_secret_is_used_as_its_bytes() -> None:
    assert signing.secret_key("plain") == b"plain"
    with pytest.raises(ValueError, match="base64"):
        signing.secret_key("whsec_???")
