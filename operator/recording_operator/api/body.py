"""Reading a request body: the size cap first, then JSON, exactly in the spec's order.

The cap is enforced while reading (and from Content-Length when the client announces it), so
an oversized body is refused before it is buffered whole or parsed.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .errors import ApiError

MAX_BODY_BYTES = 64 * 1024

TOO_LARGE = "Payload too large"


def _too_large() -> ApiError:
    return ApiError(413, TOO_LARGE)


def _json_error(what: str) -> ApiError:
    return ApiError(400, f"[JSON] {what}")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise _too_large()
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise _too_large()
    return bytes(received)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _json_error("The body is not valid UTF-8") from None
    if not text.strip():
        return {}
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise _json_error(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise _json_error(str(exc)) from None
    except RecursionError:
        raise _json_error("The body is nested too deeply") from None
    if not isinstance(value, dict):
        kind = "null" if value is None else _KINDS.get(type(value), "not an object")
        raise _json_error(f"The body must be a JSON object, not {kind}")
    try:
        # json accepts escaped lone surrogates ("\ud800"), which are not Unicode text and
        # could not be sent on to Kubernetes.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _json_error("The body holds an invalid Unicode escape (a lone surrogate)") from None
    return value
