"""One error hierarchy at the boundary to the Kubernetes API, as kopf's ``_cogs/clients/errors``.

Every caller of the API (the REST API's store, the operator's own calls, the recorder's status
reporter, the embedded mode) sees these, never a client library's exception types: the
translation from an HTTP status and the API's ``Status`` body is written once, here, and so is the
way of reading the API server's own message.
"""

from __future__ import annotations

import json
from typing import Any


class KubeError(Exception):
    """A Kubernetes API call failed. ``status`` is the HTTP status (None: no answer at all)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float = 0.0,
        detail: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        #: What went wrong, without what we were doing (``message`` is "<doing>: <detail>").
        self.detail = message if detail is None else detail
        self.status = status
        #: Seconds the server asked us to wait (Retry-After), 0 when it said nothing.
        self.retry_after = retry_after


class NotFound(KubeError):
    """404: the object (or its kind) does not exist."""


class Conflict(KubeError):
    """409: the name is taken, or the object changed since it was read."""


class Invalid(KubeError):
    """400/422: the API server refused the object (schema, CEL, admission)."""


class Forbidden(KubeError):
    """401/403: the caller's credentials do not allow the call."""


class Expired(KubeError):
    """410: a watch's resourceVersion is too old; list afresh, then watch from there."""


class Unavailable(KubeError):
    """No usable answer: 429, 5xx, a timeout or a broken connection. Worth retrying."""


class TimedOut(Unavailable):
    """No answer within the time the caller allowed."""


def message_from_body(body: str | bytes | None, fallback: str) -> str:
    """The API server's own words from a ``Status`` body (which field it refused, and why)."""
    if not body:
        return fallback
    try:
        data: Any = json.loads(body)
    except (ValueError, TypeError):
        return fallback
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return fallback


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float((headers or {}).get("Retry-After", "0")))
    except (TypeError, ValueError, AttributeError):
        return 0.0


def from_status(
    status: int,
    body: str | bytes | None,
    *,
    reason: str = "",
    doing: str = "",
    headers: Any = None,
) -> KubeError:
    """The error for an HTTP answer of the API server (any client's)."""
    plain = f"{status} {reason}".strip()
    detail = message_from_body(body, "")
    what = f"{plain}: {detail}" if detail else plain
    text = f"{doing}: {what}" if doing else what
    kind: type[KubeError]
    if status == 404:
        kind = NotFound
    elif status == 409:
        kind = Conflict
    elif status in (400, 422):
        kind = Invalid
    elif status in (401, 403):
        kind = Forbidden
    elif status == 410:
        kind = Expired
    else:
        kind = Unavailable
    return kind(text, status=status, retry_after=_retry_after(headers), detail=what)


def translate(exc: BaseException, doing: str = "") -> KubeError:
    """Turns any client-side failure of a call into a :class:`KubeError`.

    kubernetes_asyncio's ``ApiException`` carries the status and body; a timeout or a broken
    connection (aiohttp, OSError) becomes :class:`Unavailable` with no status.
    """
    if isinstance(exc, KubeError):
        return exc
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status >= 100 and hasattr(exc, "body"):
        return from_status(
            status,
            getattr(exc, "body", None),
            reason=str(getattr(exc, "reason", "") or ""),
            doing=doing,
            headers=getattr(exc, "headers", None),
        )
    if isinstance(exc, TimeoutError):
        return TimedOut(f"{doing}: no answer in time" if doing else "no answer in time",
                        detail="no answer in time")
    text = str(exc) or type(exc).__name__
    return Unavailable(f"{doing}: {text}" if doing else text, detail=text)
