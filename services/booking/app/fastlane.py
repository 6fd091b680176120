"""The rush lane: ``POST /v1/holds`` for a session whose live count in Redis says sold out (or closed) is refused
here, before FastAPI routes the request, validates the body with pydantic, solves dependencies and turns an
exception into a response. In a rush almost every attempt is such a refusal, so this is the path that sets the
throughput; the rule itself lives in ``BookingService.cached_refusal`` (which ``hold()`` also applies).

Pure ASGI, installed inside the gateway-identity check (an unsigned request never gets here) and inside the
request-context middleware (the access line, metrics and request id are the same as for any request).
Only a body of exactly ``{"session_id": "<canonical uuid>"}`` sent as JSON is judged here; anything else goes on to
FastAPI unchanged (the body is replayed). An attempt the cache does not refuse first waits for its session's turn
(``BookingService.hold_turn``: this process's attempts on one session reach Postgres one at a time), reads the
count again if it had to wait, and only then goes on to FastAPI, where Postgres decides."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PATH = "/v1/holds"
_MAX_BODY = 512  # a hold body is ~60 bytes; anything longer is left to FastAPI
_BODY = re.compile(rb'\s*\{\s*"session_id"\s*:\s*"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                   rb'[0-9a-fA-F]{12})"\s*\}\s*')
_HEADERS_JSON = b"application/json"


class HoldFastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._rendered: dict[tuple[str, tuple], tuple[int, bytes]] = {}
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        identity = scope.get("state", {}).get("identity")
        if identity is None or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        body, messages, complete = await _read_small_body(receive)
        m = _BODY.fullmatch(body) if complete else None
        if m is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        svc = scope["app"].state.booking
        session_id = m.group(1).decode().lower()
        refusal = await svc.cached_refusal(session_id, identity.user_id)
        if refusal is None:
            # Wait for this session's turn here rather than inside the route, so that an attempt queued behind
            # the last slot is refused by the lane too; the route's hold() finds the turn already held.
            async with svc.hold_turn(session_id) as waited:
                if waited:
                    refusal = await svc.cached_refusal(session_id, identity.user_id)
                if refusal is None:
                    await self.app(scope, _replay(messages, receive), send)
                    return
        scope["route"] = self._hold_route(scope)
        await self._send_error(refusal, send)

    def _hold_route(self, scope: Scope) -> Any:
        """The route object the access log and metrics read the template from."""
        if self._route is None:
            self._route = next((r for r in scope["app"].routes if getattr(r, "path", None) == PATH
                                and "POST" in (getattr(r, "methods", None) or ())), SimpleNamespace(path=PATH))
        return self._route

    async def _send_error(self, exc: Any, send: Send) -> None:
        key = (exc.code, tuple(exc.details.items()))
        rendered = self._rendered.get(key)
        if rendered is None:  # a handful of distinct refusals: rendered once each
            body = json.dumps(exc.to_body(), ensure_ascii=False).encode()
            rendered = self._rendered[key] = (exc.status, body)
        status, body = rendered
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", _HEADERS_JSON), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _is_json(scope: Scope) -> bool:
    for k, v in scope["headers"]:
        if k == b"content-type":
            return v.split(b";", 1)[0].strip().lower() == _HEADERS_JSON
    return False


async def _read_small_body(receive: Receive) -> tuple[bytes, list[Message], bool]:
    """Read the request body while it stays small. Returns (body, the messages read, whether it is complete);
    an incomplete read leaves the rest to the app, which gets the read messages replayed first."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return b"", messages, False
        size += len(message.get("body", b""))
        if size > _MAX_BODY:
            return b"", messages, False
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in messages), messages, True


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def _receive() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return _receive
