"""Benchmark: HTTP online lookups (``sparkfs serve``) vs. the same reads straight to Redis.

Starts a redis-server and writes 100k entities to each of two plain feature views and one
aggregation view through the online package's bulk writer (a published generation, as a
full-refresh sync leaves it; the aggregation view's values hold ``--agg-points`` change points
each, 12 features, from an hour ago to 30 days ahead), applies a small project to a SQLite
registry, and starts ``sparkfs serve`` (uvicorn, one worker). A separate driver process then
runs, each for ``--seconds`` (20 by default):

* ``paced_1``: one entity, 1 view, at a fixed 200 requests/s (open loop; latency counted from
  the scheduled send time, so a stall is not hidden);
* ``sat_1``: one entity at saturation (fixed concurrency, closed loop);
* ``sat_1_agg`` / ``paced_1_agg``: the same on the aggregation view (the reader picks the
  point current at the lookup time among the value's points);
* ``sat_100x2``: 100 entities x 2 views at saturation;

and, from the same driver process, ``redis_paced_1`` (the one-entity reads at 200/s: the
latency floor of this driver on this machine) and, at the same concurrency,
``redis_1`` / ``redis_1_agg`` / ``redis_100x2``: the
same key reads done directly with redis-py (one pipeline: an MGET per view plus the generation
pointer HGETs, no decoding): the floor an HTTP hop is measured against.

Progress goes to stderr; the last stdout line is one JSON object (keys in bench/README.md).
The machine this runs on may be shared: the driver and the server compete for the same cores.

Run: ``PYTHONPATH=. python bench/serving.py`` (``--seconds 5`` for a quick look).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sparkfs.config import SparkfsConfig, load_config  # noqa: E402
from sparkfs.online.generations import Generations  # noqa: E402
from sparkfs.online.layout import (  # noqa: E402
    EntityKeyCodec,
    ValueCodec,
    control_key,
    data_prefix,
    datetime_to_us,
    pointer_field,
)
from sparkfs.online.topology import make_client  # noqa: E402
from sparkfs.online.view import OnlineView  # noqa: E402
from sparkfs.online.writer import BulkWriter, WriteMode  # noqa: E402
from sparkfs.pipeline.serving_catalog import CatalogSource  # noqa: E402
from sparkfs.pipeline.workspace import Workspace  # noqa: E402
from tests.redis_server import RedisServer, free_port  # noqa: E402

FEATURES = """
entities:
  - {name: user, join_keys: [{name: user_id, type: int64}]}
feature_views:
  - name: profile
    entities: [user]
    source: {type: delta, path: x/profile}
    timestamp_column: ts
    features:
      - {name: age, type: int32}
      - {name: country, type: string}
      - {name: score, type: float64}
    owner: bench
  - name: activity
    entities: [user]
    source: {type: delta, path: x/activity}
    timestamp_column: ts
    features:
      - {name: clicks_7d, type: int64}
      - {name: spend_7d, type: float64}
      - {name: premium, type: bool}
    owner: bench
  - name: txn_aggs
    entities: [user]
    source: {type: delta, path: x/transactions}
    timestamp_column: ts
    aggregations:
      grain: hour
      windows: [1h, 1d, 7d, 30d]
      features:
        - {name: txn_count, function: count, column: amount}
        - {name: txn_amount_sum, function: sum, column: amount}
        - {name: txn_amount_avg, function: avg, column: amount}
    ttl: 35d
    owner: bench
"""
AGG_VIEW = "txn_aggs"


ENTITIES = 100_000  # set from --entities in the driver


def log(msg: str) -> None:
    print(f"[serving-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- setup
def make_project(root: Path, redis_url: str) -> SparkfsConfig:
    (root / "conf" / "features").mkdir(parents=True)
    (root / "conf" / "features" / "bench.yaml").write_text(FEATURES)
    (root / "conf" / "sparkfs.yaml").write_text(
        f'project: bench\nregistry: {{url: "sqlite:///../registry.db"}}\n'
        f'online: {{type: redis, url: "{redis_url}"}}\n'
        "serving: {max_entities: 1000, redis_timeout_s: 1.0}\n")
    return load_config(root / "conf" / "sparkfs.yaml")


def agg_points(view: OnlineView, rnd: random.Random, now: datetime,
               n: int) -> list[tuple[int, int, list[Any]]]:
    """``n`` change points of an aggregation view's entity: the current one an hour ago, then
    ``n - 1`` spread evenly over the next 30 days (where events leave their windows)."""
    times = [now - timedelta(hours=1)]
    times += [now + timedelta(days=30) * k / (n - 1) for k in range(1, n)]
    return [(datetime_to_us(t), 0, [rnd.randint(0, 500) if f.dtype == "int64"
                                    else rnd.random() * 1000 for f in view.features])
            for t in times]


def publish(config: SparkfsConfig, view: OnlineView, n: int, points: int = 1) -> int:
    """Write ``n`` entities of ``view`` and publish the generation; returns the bytes of the
    first value (``points`` change points per value for the aggregation view)."""
    online = config.online
    gens = Generations(make_client(online), online.namespace)
    gen = gens.begin(view.name, view.version)
    prefix = data_prefix(online.namespace, view.name, view.version, gen)
    keys, values = EntityKeyCodec(view), ValueCodec(view)
    now = datetime.now(UTC)
    rnd = random.Random(view.name)
    writer = BulkWriter(online, now_ms=int(time.time() * 1000), ttl_ms=0)
    batch = 5000
    first = 0
    for start in range(0, n, batch):
        ids = range(start, min(n, start + batch))
        event_us = datetime_to_us(now - timedelta(minutes=5))
        if view.name == AGG_VIEW:
            encoded = [values.encode_points(agg_points(view, rnd, now, points)) for _ in ids]
        else:
            if view.name == "profile":
                vals = [[rnd.randint(18, 90), rnd.choice(["US", "FR", "DE"]), rnd.random()]
                        for _ in ids]
            else:
                vals = [[rnd.randint(0, 500), rnd.random() * 1000, rnd.random() < 0.1]
                        for _ in ids]
            encoded = [values.encode(event_us, 0, v) for v in vals]
        first = first or len(encoded[0])
        writer.write(WriteMode.FRESH, [prefix + keys.encode((i,)) for i in ids], encoded,
                     [int(time.time() * 1000) + 86_400_000] * len(ids))
    writer.close()
    gens.publish(view.name, view.version, gen)
    return first


def start_server(config: SparkfsConfig, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPARKFS_USER": "bench"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkfs.cli", "--config", config.config_path, "serve",
         "--port", str(port), "--workers", str(workers)], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("sparkfs serve did not become ready")


# --------------------------------------------------------------------------- driver
def cpu_seconds(pid: int) -> float:
    """user+system CPU time of a process and its live children (uvicorn workers), from Linux
    /proc: the server's cost per request is measured in CPU, which a loaded machine slows down
    far less than wall-clock latency."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def steal_seconds() -> float:
    """CPU time the hypervisor took from this VM (all CPUs), from /proc/stat: while it is
    non-zero, processes that are ready to run wait, which shows up as latency stalls."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


async def with_steal(scenario: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Run a scenario and add the machine's steal time during it."""
    steal0 = steal_seconds()
    result = await scenario
    result["machine_steal_s"] = round(steal_seconds() - steal0, 2)
    return result


PROBE_WORK = 2000  # loop iterations per probe chunk: ~0.1-0.2 ms of CPU on these machines
PROBE_EVERY_S = 0.004


def probe(seconds: float) -> None:
    """The ``--probe`` process: a fixed chunk of pure-Python work every 4 ms; prints the
    monotonic start and the wall and thread-CPU duration of each chunk as JSON. A chunk that
    takes several times the median *in CPU time too* means the CPU itself ran slow (the host
    throttling or sharing the VM's vCPUs, which the guest does not see as steal), not that the
    probe waited for a core."""
    chunks = []
    print("ready", flush=True)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0, c0 = time.perf_counter(), time.thread_time()
        acc = 0
        for i in range(PROBE_WORK):
            acc += i * i
        chunks.append((t0, time.perf_counter() - t0, time.thread_time() - c0))
        time.sleep(PROBE_EVERY_S)
    print(json.dumps(chunks))


async def with_probe(scenario: Awaitable[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Run a paced scenario with a CPU-speed probe beside it and add what it saw:
    ``machine_slow_share``, the share of probe chunks whose thread CPU time was over 3x the
    median (the part of the run the machine itself was running slow), and ``slow_requests_in_machine_slowdowns``, the
    share of requests over 5 ms that were in flight while the probe was slow."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--probe", str(seconds + 1), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    await proc.stdout.readline()  # "ready": the probe runs from before the first request
    result = await scenario
    out, _ = await proc.communicate()
    chunks = json.loads(out)
    samples = result.pop("_samples")
    if not chunks:
        return result
    median = sorted(c[2] for c in chunks)[len(chunks) // 2]
    slow = [(t, t + wall) for t, wall, cpu in chunks if cpu > 3 * median]
    result["machine_slow_share"] = round(len(slow) / len(chunks), 4)
    result["probe_median_chunk_ms"] = round(median * 1000, 3)
    starts = [a for a, _ in slow]
    late = [(t, t + lat) for t, lat in samples if lat > 0.005]

    def overlaps(begin: float, end: float) -> bool:
        i = bisect.bisect_right(starts, end)
        return i > 0 and slow[i - 1][1] >= begin

    result["requests_over_5ms"] = len(late)
    result["slow_requests_in_machine_slowdowns"] = (
        round(sum(overlaps(b, e) for b, e in late) / len(late), 3) if late else 0.0)
    return result


async def measured(pid: int, scenario: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Run a scenario and add the server's and this driver's CPU ms per request."""
    server0, own0 = cpu_seconds(pid), time.process_time()
    result = await with_steal(scenario)
    n = max(1, result["requests"])
    result["server_cpu_ms_per_request"] = round((cpu_seconds(pid) - server0) * 1000 / n, 3)
    result["driver_cpu_ms_per_request"] = round((time.process_time() - own0) * 1000 / n, 3)
    return result


def percentiles(samples: list[float]) -> dict[str, float]:
    data = sorted(samples)
    if not data:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    pick = lambda q: data[min(len(data) - 1, int(q * len(data)))] * 1000  # noqa: E731
    return {"p50_ms": round(pick(0.50), 3), "p99_ms": round(pick(0.99), 3)}


def log_error(count: int, exc: Exception) -> None:
    """A failed request is counted in the scenario's ``errors``; the first few say why."""
    if count <= 3:
        log(f"request failed: {type(exc).__name__}: {exc}")


async def closed_loop(call: Callable[[int], Awaitable[None]], concurrency: int,
                      seconds: float, n_entities: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    rnd = random.Random(1)

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                await call(rnd.randrange(0, ENTITIES - n_entities))
            except Exception as exc:
                errors += 1
                log_error(errors, exc)
                continue
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return {"requests_per_s": round(len(latencies) / elapsed, 1), "errors": errors,
            "requests": len(latencies), **percentiles(latencies)}


async def paced(call: Callable[[int], Awaitable[None]], rate: float,
                seconds: float, max_in_flight: int = 64) -> dict[str, Any]:
    """Open loop at ``rate``; latency from the *scheduled* send time.

    Bounded: a send due while ``max_in_flight`` requests are outstanding is dropped (counted),
    and requests still running 5 s after the last send are cancelled (counted as dropped), so
    an overloaded server ends the scenario on time instead of queueing for minutes.
    """
    latencies: list[float] = []
    sent: list[float] = []
    errors = dropped = 0
    rnd = random.Random(2)
    tasks: set[asyncio.Task[None]] = set()
    began = time.perf_counter()

    async def one(scheduled: float) -> None:
        nonlocal errors
        try:
            await call(rnd.randrange(0, ENTITIES))
        except Exception as exc:
            errors += 1
            log_error(errors, exc)
            return
        latencies.append(time.perf_counter() - scheduled)
        sent.append(scheduled)

    for i in range(int(rate * seconds)):
        scheduled = began + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= max_in_flight:
            dropped += 1
            continue
        task = asyncio.create_task(one(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=5)
        for task in pending:
            task.cancel()
        dropped += len(pending)
    elapsed = time.perf_counter() - began
    return {"target_per_s": rate, "achieved_per_s": round(len(latencies) / elapsed, 1),
            "errors": errors, "dropped": dropped, "requests": len(latencies),
            **percentiles(latencies), "_samples": list(zip(sent, latencies, strict=True))}


class RawHttp:
    """A minimal keep-alive HTTP/1.1 client for the driver: pre-built request bytes, responses
    read by Content-Length. On a 2-core machine the load generator competes with the server for
    CPU; httpx spends ~2.5 ms of CPU per request (more than the server), this ~0.1 ms, so the
    figures measure the server rather than the client."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.pool.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def post(self, path: str, body: bytes) -> bytes:
        reader, writer = await self.pool.get()
        try:
            writer.write(b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            payload = await reader.readexactly(length)
        except BaseException:
            writer.close()  # a half-read connection is unusable: replace it
            self.pool.put_nowait(await asyncio.open_connection(self.host, self.port))
            raise
        self.pool.put_nowait((reader, writer))
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(payload.decode(errors="replace"))
        return payload

    async def close(self) -> None:
        while not self.pool.empty():
            _, writer = self.pool.get_nowait()
            writer.close()


def http_call(client: RawHttp, features: list[str], n: int) -> Callable[[int], Awaitable[None]]:
    head = json.dumps({"features": features}).encode()[:-1] + b', "entities": {"user_id": ['

    async def call(first: int) -> None:
        ids = ",".join(str(i) for i in range(first, first + n)).encode()
        await client.post("/v1/features:lookup", head + ids + b"]}}")
    return call


def redis_call(client: aioredis.Redis, views: list[OnlineView], ns: str,
               gens: dict[str, int], n: int) -> Callable[[int], Awaitable[None]]:
    codecs = [(v, EntityKeyCodec(v), data_prefix(ns, v.name, v.version, gens[v.name]))
              for v in views]

    async def call(first: int) -> None:
        pipe = client.pipeline(transaction=False)
        for _view, codec, prefix in codecs:
            pipe.execute_command("MGET", *[prefix + codec.encode((i,))
                                           for i in range(first, first + n)])
        for view, _, _ in codecs:
            pipe.execute_command("HGET", control_key(ns, view.name), pointer_field(view.version))
        replies = await pipe.execute()
        if replies[0][0] is None:
            raise RuntimeError("missing value")
    return call


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    config = load_config(args.config)
    source = CatalogSource(Workspace.open(config, user="bench"))
    source.refresh()
    views = [source.catalog.view("profile").online, source.catalog.view("activity").online,
             source.catalog.view(AGG_VIEW).online]
    ns = config.online.namespace
    rc = make_client(config.online)
    gens = {v.name: int(rc.hget(control_key(ns, v.name), pointer_field(v.version)))
            for v in views}
    conc, secs = args.concurrency, args.seconds
    out: dict[str, Any] = {}
    host, port = args.url.rsplit("/", 1)[-1].split(":")
    client = RawHttp(host, int(port), 64)
    await client.open()
    try:
        one = http_call(client, ["profile:*"], 1)
        many = http_call(client, ["profile:*", "activity:*"], 100)
        one_agg = http_call(client, [f"{AGG_VIEW}:*"], 1)
        await closed_loop(one, conc, 2, 1)  # warm up connections and the server
        log(f"paced_1: 1 entity at 200 req/s for {secs}s")
        out["paced_1"] = await measured(args.server_pid, with_probe(paced(one, 200, secs), secs))
        log(f"sat_1: 1 entity, concurrency {conc}, {secs}s")
        out["sat_1"] = await measured(args.server_pid, closed_loop(one, conc, secs, 1))
        log(f"sat_1_agg: 1 entity of the aggregation view, concurrency {conc}, {secs}s")
        out["sat_1_agg"] = await measured(args.server_pid, closed_loop(one_agg, conc, secs, 1))
        log(f"paced_1_agg: 1 entity of the aggregation view at 200 req/s for {secs}s")
        out["paced_1_agg"] = await measured(args.server_pid,
                                            with_probe(paced(one_agg, 200, secs), secs))
        log(f"sat_100x2: 100 entities x 2 views, concurrency {conc}, {secs}s")
        out["sat_100x2"] = await measured(args.server_pid, closed_loop(many, conc, secs, 100))
    finally:
        await client.close()
    # the paced runs allow 64 requests in flight (a pool of `conc` failed them when the
    # machine stalled: MaxConnectionsError counted in `errors`)
    direct = aioredis.Redis.from_url(config.online.url, max_connections=max(conc, 64))
    log(f"redis_paced_1 / redis_1 / redis_1_agg / redis_100x2: the same reads with redis-py, "
        f"concurrency {conc}")
    out["redis_paced_1"] = await with_steal(with_probe(
        paced(redis_call(direct, views[:1], ns, gens, 1), 200, secs), secs))
    out["redis_1"] = await closed_loop(redis_call(direct, views[:1], ns, gens, 1), conc, secs, 1)
    out["redis_1_agg"] = await closed_loop(redis_call(direct, views[2:], ns, gens, 1), conc,
                                           secs, 1)
    out["redis_100x2"] = await closed_loop(redis_call(direct, views[:2], ns, gens, 100), conc,
                                           secs, 100)
    await direct.aclose()
    return out


# --------------------------------------------------------------------------- main
def summarize(raw: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    def ratio(a: float, b: float) -> float:
        return round(a / b, 3) if b else float("nan")

    def closed(name: str) -> dict[str, float]:
        """A closed-loop scenario's rate and latency percentiles."""
        return {f"{name}_rps": raw[name]["requests_per_s"], f"{name}_p50_ms": raw[name]["p50_ms"],
                f"{name}_p99_ms": raw[name]["p99_ms"]}

    return {
        **meta,
        "paced_1_p50_ms": raw["paced_1"]["p50_ms"], "paced_1_p99_ms": raw["paced_1"]["p99_ms"],
        "paced_1_achieved_rps": raw["paced_1"]["achieved_per_s"],
        "paced_1_dropped": raw["paced_1"]["dropped"],
        "paced_1_p99_target_met": raw["paced_1"]["p99_ms"] < 5.0 and not raw["paced_1"]["dropped"],
        "redis_paced_1_p50_ms": raw["redis_paced_1"]["p50_ms"],
        "redis_paced_1_p99_ms": raw["redis_paced_1"]["p99_ms"],
        "paced_1_machine_steal_s": raw["paced_1"]["machine_steal_s"],
        "redis_paced_1_machine_steal_s": raw["redis_paced_1"]["machine_steal_s"],
        "paced_1_machine_slow_share": raw["paced_1"].get("machine_slow_share"),
        "paced_1_requests_over_5ms": raw["paced_1"].get("requests_over_5ms"),
        "paced_1_slow_requests_in_machine_slowdowns":
            raw["paced_1"].get("slow_requests_in_machine_slowdowns"),
        "redis_paced_1_machine_slow_share": raw["redis_paced_1"].get("machine_slow_share"),
        "redis_paced_1_requests_over_5ms": raw["redis_paced_1"].get("requests_over_5ms"),
        "redis_paced_1_slow_requests_in_machine_slowdowns":
            raw["redis_paced_1"].get("slow_requests_in_machine_slowdowns"),
        "sat_1_rps": raw["sat_1"]["requests_per_s"], "sat_1_p50_ms": raw["sat_1"]["p50_ms"],
        "sat_1_p99_ms": raw["sat_1"]["p99_ms"],
        "sat_1_rps_target_met": raw["sat_1"]["requests_per_s"] >= 1500,
        **closed("sat_100x2"), **closed("redis_1"), **closed("redis_100x2"),
        "http_vs_redis_rps_1": ratio(raw["sat_1"]["requests_per_s"],
                                    raw["redis_1"]["requests_per_s"]),
        "http_vs_redis_rps_100x2": ratio(raw["sat_100x2"]["requests_per_s"],
                                         raw["redis_100x2"]["requests_per_s"]),
        "server_cpu_ms_per_request_1": raw["sat_1"]["server_cpu_ms_per_request"],
        "server_cpu_ms_per_request_100x2": raw["sat_100x2"]["server_cpu_ms_per_request"],
        "server_rps_per_core_1": ratio(1000, raw["sat_1"]["server_cpu_ms_per_request"]),
        "server_rps_per_core_100x2": ratio(1000, raw["sat_100x2"]["server_cpu_ms_per_request"]),
        **closed("sat_1_agg"),
        "paced_1_agg_p50_ms": raw["paced_1_agg"]["p50_ms"],
        "paced_1_agg_p99_ms": raw["paced_1_agg"]["p99_ms"],
        "paced_1_agg_achieved_rps": raw["paced_1_agg"]["achieved_per_s"],
        "paced_1_agg_dropped": raw["paced_1_agg"]["dropped"],
        "paced_1_agg_machine_slow_share": raw["paced_1_agg"].get("machine_slow_share"),
        **closed("redis_1_agg"),
        "http_vs_redis_rps_1_agg": ratio(raw["sat_1_agg"]["requests_per_s"],
                                        raw["redis_1_agg"]["requests_per_s"]),
        "server_cpu_ms_per_request_1_agg": raw["sat_1_agg"]["server_cpu_ms_per_request"],
        "server_rps_per_core_1_agg": ratio(1000, raw["sat_1_agg"]["server_cpu_ms_per_request"]),
        "agg_vs_plain_rps_1": ratio(raw["sat_1_agg"]["requests_per_s"],
                                    raw["sat_1"]["requests_per_s"]),
        "agg_vs_plain_server_cpu_1": ratio(raw["sat_1_agg"]["server_cpu_ms_per_request"],
                                           raw["sat_1"]["server_cpu_ms_per_request"]),
        "errors": sum(v["errors"] for v in raw.values()),
        "scenarios": raw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--agg-points", type=int, default=26,
                        help="change points per value of the aggregation view (26: the mean of "
                             "bench/sync.py's aggregation workload)")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--probe", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args.probe)
        return
    if args.drive:
        global ENTITIES
        ENTITIES = args.entities
        print(json.dumps(asyncio.run(drive(args))))
        return
    with tempfile.TemporaryDirectory(prefix="sparkfs-serving-bench-") as tmp, \
            RedisServer() as server:
        config = make_project(Path(tmp), server.url)
        workspace = Workspace.open(config, user="bench")
        workspace.definitions.apply(workspace.repository, user="bench")
        source = CatalogSource(workspace)
        source.refresh()
        value_bytes = {}
        for name in ("profile", "activity", AGG_VIEW):
            log(f"writing {args.entities} entities to {name}")
            value_bytes[name] = publish(config, source.catalog.view(name).online, args.entities,
                                        args.agg_points)
        agg_features = len(source.catalog.view(AGG_VIEW).online.features)
        port = free_port()
        log(f"starting sparkfs serve on port {port}")
        proc = start_server(config, port, args.workers)
        try:
            driver = subprocess.run(
                [sys.executable, __file__, "--drive", "--url", f"http://127.0.0.1:{port}",
                 "--config", config.config_path, "--seconds", str(args.seconds),
                 "--concurrency", str(args.concurrency),
                 "--entities", str(args.entities), "--server-pid", str(proc.pid)],
                stdout=subprocess.PIPE, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        raw = json.loads(driver.stdout.decode().strip().splitlines()[-1])
    meta = {"entities_per_view": args.entities, "seconds_per_scenario": args.seconds,
            "concurrency": args.concurrency, "server_workers": args.workers, "cpus": os.cpu_count(),
            "agg_points_per_entity": args.agg_points, "agg_features": agg_features,
            "plain_value_bytes": value_bytes["profile"], "agg_value_bytes": value_bytes[AGG_VIEW],
            "load_avg_1m": round(os.getloadavg()[0], 2)}
    print(json.dumps(summarize(raw, meta)))


if __name__ == "__main__":
    main()
