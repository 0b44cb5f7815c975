"""The request body limit (``serving.max_request_bytes``).

:class:`BodyLimitMiddleware` answers ``413`` in sparkfs's error shape before a body past the limit
is read, let alone parsed: at once when ``Content-Length`` says so, else (a chunked body) as soon
as the bytes received pass it (such a body is buffered up to the limit before the app runs).
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sparkfs.errors import LimitExceededError

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Refuses request bodies larger than ``max_bytes`` with ``413`` (pure ASGI: no copy, no
    extra await on the path of a request within the limit)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> LimitExceededError:
        return LimitExceededError(
            f"the request body is larger than serving.max_request_bytes ({self.max_bytes} "
            "bytes); send fewer entities per request (serving.max_entities bounds them too)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)  # the server never delivers more than declared
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body of unknown length (chunked): read it up to the limit before the app runs,
        then hand the app the buffered body."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks),
                                  "more_body": False}]

        async def buffered_receive() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, buffered_receive, send)

    async def _refuse(self, send: Send) -> None:
        exc = self._error()
        body = orjson.dumps({"error": {"type": type(exc).__name__, "message": str(exc)}})
        await send({"type": "http.response.start", "status": exc.http_status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
