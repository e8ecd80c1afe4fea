"""Standard Webhooks signatures (https://www.standardwebhooks.com): how a receiver knows an
event came from us and was not replayed.

``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed with the
secret's bytes; a ``whsec_`` secret is the base64 of its key, as the spec says. Verification
(used by tests and by any in-process receiver) compares in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

PREFIX = "whsec_"
#: How far a timestamp may be from now before a receiver refuses it (the spec's suggestion).
TOLERANCE_SECONDS = 5 * 60


class SignatureError(ValueError):
    """A webhook's signature or timestamp does not check out."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a configured secret: base64-decoded after ``whsec_``, else its bytes."""
    if secret.startswith(PREFIX):
        try:
            return base64.b64decode(secret[len(PREFIX):], validate=True)
        except binascii.Error as exc:
            raise ValueError("a whsec_ secret must be base64 after the prefix") from exc
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The three headers of one attempt (the timestamp is the attempt's, the id the event's)."""
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(secret: str, header_values: dict[str, str], body: bytes,
           now: float | None = None) -> None:
    """Raises SignatureError unless one of the ``v1`` signatures matches and is fresh."""
    lowered = {k.lower(): v for k, v in header_values.items()}
    try:
        msg_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        offered = lowered["webhook-signature"].split()
    except (KeyError, ValueError) as exc:
        raise SignatureError(f"missing or malformed webhook header: {exc}") from None
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("the timestamp is too far from now")
    expected = sign(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise SignatureError("no signature matches")
