"""One pipelined asyncio connection to a standalone Redis, shared by every concurrent lookup.

Redis answers the commands of one connection in order, so concurrent callers need no pool:
each call writes its framed commands in one write and queues a waiter for its replies; replies
are parsed in C (hiredis) as they arrive and handed to the waiters in order. Against
``redis.asyncio``'s pipeline (a pool checkout, a lock, per-command packing and parsing in
Python) this is a fraction of the CPU of a one-entity lookup, and under load many requests
share one socket write and one read.

Failure semantics: any connection error, or a caller that stops waiting (cancelled, or its
``asyncio.timeout`` expired) closes the connection and fails every queued waiter (their replies
could no longer be matched to them); the next call connects again. Reads are bounded by the
caller's timeout (one timer per lookup, not one per call), the connect by ``timeout_s``. The
serving layer turns :class:`ConnectionError` and timeouts into 503s, so a restarted Redis is
picked up by the first request after it is back.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, cast

import hiredis

from sparkfs.online.resp import Address, ReplyError, login_commands

__all__ = ["AsyncConnection"]


class _Waiter:
    __slots__ = ("future", "n", "replies")

    def __init__(self, future: asyncio.Future[list[Any]], n: int) -> None:
        self.future = future
        self.n = n
        self.replies: list[Any] = []


class _Protocol(asyncio.Protocol):
    def __init__(self, address: Address) -> None:
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(replyError=ReplyError)
        self.waiters: collections.deque[_Waiter] = collections.deque()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiters, gets = self.waiters, self.reader.gets
        while waiters:
            waiter = waiters[0]
            replies = waiter.replies
            while len(replies) < waiter.n:
                reply = gets()
                if reply is False:
                    return
                replies.append(reply)
            waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_result(replies)
        if gets() is not False:  # a reply nobody asked for: the stream is out of step
            self.fail(ConnectionError(f"{self.address}: unexpected reply from Redis"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(ConnectionError(f"{self.address} closed the connection"
                                  + (f": {exc}" if exc else "")))

    def fail(self, exc: Exception) -> None:
        self.closed = True
        while self.waiters:
            future = self.waiters.popleft().future
            if not future.done():
                future.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()


class AsyncConnection:
    """Pipelined commands over one lazily (re)opened connection (``AUTH``/``SELECT`` from the
    address on every connect)."""

    def __init__(self, address: Address, timeout_s: float) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._protocol: _Protocol | None = None
        self._connecting = asyncio.Lock()

    async def execute(self, payload: bytes, n_replies: int) -> list[Any]:
        """Send ``payload`` (``n_replies`` framed commands, see :func:`resp.command`) and return
        the replies in order; error replies come back as :class:`ReplyError` values.

        Wrap the call in ``asyncio.timeout``: a hung Redis is noticed by the caller giving up.

        Raises:
            ConnectionError: Redis is unreachable (within ``timeout_s``) or closed the
                connection.
        """
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        return await self._send(protocol, payload, n_replies)

    async def _send(self, protocol: _Protocol, payload: bytes, n_replies: int) -> list[Any]:
        assert protocol.transport is not None
        waiter = _Waiter(asyncio.get_running_loop().create_future(), n_replies)
        protocol.waiters.append(waiter)
        protocol.transport.write(payload)
        try:
            return await waiter.future
        except asyncio.CancelledError:
            # the replies still on their way cannot be told apart from the next caller's
            protocol.fail(ConnectionError(f"{self.address}: a caller gave up mid-reply"))
            raise

    async def _connect(self) -> _Protocol:
        async with self._connecting:
            protocol = self._protocol
            if protocol is not None and not protocol.closed:
                return protocol  # another caller connected while this one waited
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(self.timeout_s):
                    transport, protocol = await loop.create_connection(
                        lambda: _Protocol(self.address), self.address.host, self.address.port)
            except OSError as exc:  # refused, unreachable, or TimeoutError
                raise ConnectionError(f"cannot connect to Redis at {self.address}: "
                                      f"{exc or 'timed out'}") from exc
            protocol.transport = transport  # uvloop may call connection_made only later
            async with asyncio.timeout(self.timeout_s):
                await self._handshake(protocol)
            self._protocol = protocol
            return protocol

    async def _handshake(self, protocol: _Protocol) -> None:
        address = self.address
        setup = login_commands(address)
        if not setup:
            return
        for reply in await self._send(protocol, b"".join(setup), len(setup)):
            if isinstance(reply, ReplyError):
                protocol.fail(ConnectionError(f"{address}: {reply}"))
                raise ConnectionError(f"Redis at {address} refused the login or database: "
                                      f"{reply}; check online.url")

    async def aclose(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.closed = True
            protocol.transport.close()
