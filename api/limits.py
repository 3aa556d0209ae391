"""Room: api (HTTP edge) — ASGI middleware: the request body size limit (413), and no NUL in the URL (400).

The size is counted on the bytes actually received, so a chunked body without Content-Length
cannot slip past it. A NUL character in the path or the query string (`%00`) is refused before
any route sees it: PostgreSQL cannot hold one in text, so a filter or an id carrying one
would fail in the database instead of being answered (docs/limits.md). JSON bodies are read by
api/body.py, which removes NULs from them.
"""

from __future__ import annotations

import json
from typing import Any


class BodySizeLimit:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", "") \
                or b"%00" in (scope.get("raw_path") or b""):
            await self._reject(send, 400, "the URL holds a NUL character (%00): no path or query value may")
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        # Read the body first (at most max_bytes are ever held), then replay it to the app.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            body = message.get("body", b"")
            seen += len(body)
            if seen > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks), "more_body": False}],
                                      receive), send)

    async def _reject(self, send: Any, status: int = 413, detail: str = "") -> None:
        body = json.dumps({"detail": detail or f"request body larger than {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[dict], then: Any = None) -> Any:
    """A receive() that hands out the buffered messages, then waits on the real one."""
    pending = list(messages)

    async def receive() -> dict:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
