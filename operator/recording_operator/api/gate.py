"""What every request passes before routing: CORS preflight, then the access token.

An ASGI middleware rather than a FastAPI dependency, so the token is checked before anything
else for every path, known or not (an unauthenticated caller learns nothing, not even which
actions exist), and so an ``OPTIONS`` preflight is answered 204 without credentials, as
browsers send it without them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import REALM_HEADER, authorization_problem
from .errors import JSON_MEDIA_TYPE, error_body

ALLOW_METHODS = b"GET, POST, OPTIONS"
DEFAULT_ALLOW_HEADERS = b"Authorization, Content-Type"


class Gate:
    def __init__(self, app: ASGIApp, token: str, public_paths: Iterable[str]) -> None:
        self.app = app
        self._token = token.encode("utf-8")
        self._public = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] == "OPTIONS":
            await self._preflight(headers, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", b"*"),
                ]
            await send(message)

        if scope["path"] not in self._public:
            raw = headers.get(b"authorization")
            problem = authorization_problem(
                raw.decode("latin-1") if raw is not None else None, self._token
            )
            if problem is not None:
                await _send_json(send_with_cors, 401, error_body(401, problem), REALM_HEADER)
                return
        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, headers: dict[bytes, bytes], send: Send) -> None:
        requested = headers.get(b"access-control-request-headers") or DEFAULT_ALLOW_HEADERS
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-allow-methods", ALLOW_METHODS),
                    (b"access-control-allow-headers", requested),
                    (b"access-control-max-age", b"600"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


async def _send_json(send: Send, status: int, body: object, extra: dict[str, str]) -> None:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = [
        (b"content-type", JSON_MEDIA_TYPE.encode()),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
