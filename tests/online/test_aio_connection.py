"""The pipelined asyncio connection the server reads a standalone Redis with, against a real
redis-server: ordering under concurrency, error replies, a caller giving up mid-reply, Redis
going away and coming back, login and database selection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import redis
import uvloop

from sparkfs.online.aio import AsyncConnection
from sparkfs.online.resp import ReplyError, command, parse_redis_url
from tests.redis_server import RedisServer

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runner:
    """The server runs on uvloop (uvicorn's default when installed); tests use both loops."""
    return asyncio.run if request.param == "asyncio" else uvloop.run


@pytest.fixture()
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def test_concurrent_callers_get_their_own_replies(run: Runner, redis_url: str) -> None:
    async def main() -> list[list[Any]]:
        conn = AsyncConnection(parse_redis_url(redis_url), 1.0)
        try:
            return await asyncio.gather(*(
                conn.execute(command("SET", f"k{i}", i) + command("GET", f"k{i}")
                             + command("MGET", f"k{i}", "absent"), 3)
                for i in range(300)))
        finally:
            await conn.aclose()

    replies = run(main())
    assert replies == [[b"OK", b"%d" % i, [b"%d" % i, None]] for i in range(300)]


def test_error_replies_are_values_in_their_place(run: Runner, redis_url: str) -> None:
    async def main() -> list[Any]:
        conn = AsyncConnection(parse_redis_url(redis_url), 1.0)
        try:
            return await conn.execute(command("SET", "s", "x") + command("HGET", "s", "f")
                                      + command("GET", "s"), 3)
        finally:
            await conn.aclose()

    ok, error, value = run(main())
    assert ok == b"OK" and value == b"x"
    assert isinstance(error, ReplyError) and "WRONGTYPE" in str(error)


def test_a_caller_giving_up_drops_the_connection_and_the_next_call_reconnects(
        run: Runner, redis_url: str) -> None:
    async def main() -> tuple[BaseException | None, list[Any]]:
        conn = AsyncConnection(parse_redis_url(redis_url), 1.0)
        try:
            slow = asyncio.create_task(conn.execute(command("BLPOP", "never", "2"), 1))
            await asyncio.sleep(0.05)
            queued = asyncio.create_task(conn.execute(command("PING"), 1))
            await asyncio.sleep(0.05)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await slow
            # the reply queued behind the abandoned one can no longer be matched: it fails
            # rather than receive the BLPOP's answer
            queued_error = None
            try:
                await queued
            except ConnectionError as exc:
                queued_error = exc
            return queued_error, await conn.execute(command("PING") + command("ECHO", "a"), 2)
        finally:
            await conn.aclose()

    queued_error, after = run(main())
    assert queued_error is not None and "gave up" in str(queued_error)
    assert after == [b"PONG", b"a"]


def test_redis_going_away_and_coming_back(run: Runner, own_redis: RedisServer) -> None:
    async def main() -> tuple[str, list[Any]]:
        conn = AsyncConnection(parse_redis_url(own_redis.url), 0.5)
        try:
            assert await conn.execute(command("PING"), 1) == [b"PONG"]
            own_redis.stop()
            with pytest.raises(ConnectionError) as down:
                await conn.execute(command("PING"), 1)
            with pytest.raises(ConnectionError) as refused:
                await conn.execute(command("PING"), 1)  # reconnect attempt is refused
            own_redis.start()
            return f"{down.value} / {refused.value}", await conn.execute(command("PING"), 1)
        finally:
            await conn.aclose()

    errors, back = run(main())
    assert f"127.0.0.1:{own_redis.port}" in errors
    assert "cannot connect" in errors
    assert back == [b"PONG"]


def test_login_and_database_from_the_url(run: Runner, own_redis: RedisServer) -> None:
    admin = own_redis.client()
    admin.config_set("requirepass", "s3cret")
    good = f"redis://:s3cret@127.0.0.1:{own_redis.port}/3"
    bad = f"redis://:wrong@127.0.0.1:{own_redis.port}/0"

    async def main() -> tuple[list[Any], str]:
        conn = AsyncConnection(parse_redis_url(good), 1.0)
        rejected = AsyncConnection(parse_redis_url(bad), 1.0)
        try:
            ok = await conn.execute(command("SET", "in-db-3", "1"), 1)
            with pytest.raises(ConnectionError) as refused:
                await rejected.execute(command("PING"), 1)
            return ok, str(refused.value)
        finally:
            await conn.aclose()
            await rejected.aclose()

    ok, refused = run(main())
    assert ok == [b"OK"]
    assert "refused the login" in refused and "online.url" in refused
    db3 = redis.Redis(port=own_redis.port, password="s3cret", db=3, socket_timeout=2)
    assert db3.get("in-db-3") == b"1"
