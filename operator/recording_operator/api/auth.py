"""OME's access-token check: ``Authorization: Basic base64(<AccessToken>)``.

The decoded text is the token as a whole (OME does not split it into user and password, so a
token may hold a colon), compared in constant time so that timing does not reveal how much of
a guess was right. The five failure messages are OME's own: clients match on them.
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode

REALM_HEADER = {"WWW-Authenticate": 'Basic realm="OvenMediaEngine"'}

MISSING = "Authorization header is required to call API"
MALFORMED = "Invalid authorization header"
BAD_FORMAT = "Invalid credential format"
WRONG = "Invalid credential"


def unsupported(scheme: str) -> str:
    return f"Not supported credential type: {scheme}"


def authorization_problem(header: str | None, token: bytes) -> str | None:
    """Why the header does not authorise a call (the 401 text), or None when it does."""
    if not header:
        return MISSING
    parts = header.split(" ")
    if len(parts) != 2:
        return MALFORMED
    scheme, credential = parts
    if scheme.lower() != "basic":
        return unsupported(scheme)
    if not credential:
        return BAD_FORMAT
    try:
        decoded = b64decode(credential.encode("latin-1"), validate=True)
    except (binascii.Error, ValueError):
        return BAD_FORMAT
    if not decoded:
        return BAD_FORMAT
    if not hmac.compare_digest(decoded, token):
        return WRONG
    return None
