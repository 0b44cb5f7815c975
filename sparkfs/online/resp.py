"""A minimal RESP2 client for bulk writes: build many commands as one buffer, send it over one
socket, read all replies at once.

redis-py spends several microseconds of Python per command; the sync writes millions of
entities, so the writer frames commands itself (like ``redis-cli --pipe``) and only this module
touches sockets on the write path. Control operations and reads use redis-py.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

__all__ = ["Address", "Connection", "ReplyError", "command", "login_commands", "parse_redis_url"]


class ReplyError(Exception):
    """An error reply (``-ERR ...``) from Redis, kept as a value among the replies."""


@dataclass(frozen=True)
class Address:
    """Where one Redis node listens and how to log in."""

    host: str
    port: int
    password: str | None = None
    username: str | None = None
    db: int = 0

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_redis_url(url: str) -> Address:
    """``redis://[[user]:password@]host[:port][/db]`` to an :class:`Address`."""
    parsed = urlparse(url)
    db = int(parsed.path.strip("/") or 0) if parsed.path.strip("/") else 0
    return Address(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 6379,
        password=unquote(parsed.password) if parsed.password else None,
        username=unquote(parsed.username) if parsed.username else None,
        db=db,
    )


def _bulk(arg: bytes | str | int) -> bytes:
    if isinstance(arg, str):
        arg = arg.encode()
    elif isinstance(arg, int):
        arg = b"%d" % arg
    return b"$%d\r\n%b\r\n" % (len(arg), arg)


def command(*args: bytes | str | int) -> bytes:
    """Frame one command as a RESP array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(a) for a in args)


def login_commands(address: Address) -> list[bytes]:
    """The framed ``AUTH`` / ``SELECT`` a new connection to ``address`` sends first."""
    setup = []
    if address.password is not None:
        auth = [address.username, address.password] if address.username else [address.password]
        setup.append(command("AUTH", *auth))
    if address.db:
        setup.append(command("SELECT", address.db))
    return setup


class Connection:
    """One blocking socket to one node; ``roundtrip`` sends a buffer and reads ``n`` replies."""

    def __init__(self, address: Address, timeout_s: float) -> None:
        self.address = address
        self.sock = socket.create_connection((address.host, address.port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._pos = 0
        setup = login_commands(address)
        if setup:
            for reply in self.roundtrip(b"".join(setup), len(setup)):
                if isinstance(reply, ReplyError):
                    raise reply

    def roundtrip(self, payload: bytes, n_replies: int) -> list[object]:
        """Send ``payload`` (``n_replies`` framed commands) and return the parsed replies."""
        self.sock.sendall(payload)
        return [self._reply() for _ in range(n_replies)]

    def take_run(self, reply: bytes, n: int) -> bool:
        """Consume the next ``n`` replies if they are all exactly ``reply`` (e.g. ``+OK\\r\\n``
        after pipelined SETs): one comparison instead of ``n`` parses. Returns False, consuming
        nothing, otherwise. Only for commands whose every possible reply is at least
        ``len(reply)`` bytes long, so waiting for ``n * len(reply)`` bytes cannot block."""
        size = len(reply) * n
        while len(self._buf) - self._pos < size:
            self._fill()
        if self._buf[self._pos : self._pos + size] != reply * n:
            return False
        self._pos += size
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _fill(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError(f"{self.address} closed the connection")
        self._buf += chunk

    def _line(self) -> bytes:
        while True:
            end = self._buf.find(b"\r\n", self._pos)
            if end >= 0:
                line = bytes(self._buf[self._pos : end])
                self._pos = end + 2
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n + 2:
            self._fill()
        data = bytes(self._buf[self._pos : self._pos + n])
        self._pos += n + 2
        return data

    def _reply(self) -> object:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest
        if kind == b"-":
            return ReplyError(rest.decode("utf-8", "replace"))
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._exact(size)
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._reply() for _ in range(size)]
        raise ConnectionError(f"{self.address}: unexpected reply {line[:40]!r}")

