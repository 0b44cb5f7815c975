"""Independent jobs side by side in one Spark application (``--all`` on the CLI).

A small view's run is mostly driver work (planning, Delta's log, the registry) and a few short
Spark jobs that leave cores idle; running several views at once fills them. Each job runs in a
thread of its own with

* a session of its own over the same application (``spark.newSession()``: the same executors
  and cache, its own SQL settings, so a setting one job makes for its write, such as a MERGE's
  commit metadata, never reaches another job's commit), with the caller's runtime settings;
* a FAIR scheduler pool named after the job (sparkfs sessions set ``spark.scheduler.mode=FAIR``),
  so the tasks of a large view do not queue the small ones behind it.

A failing job does not stop the others: its exception is returned in its place.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DEFAULT_CONCURRENCY", "POOL_PROPERTY", "run_concurrently"]

T = TypeVar("T")

#: Jobs run at once by default: enough to keep two cores busy while the others wait on the driver.
DEFAULT_CONCURRENCY = 4
POOL_PROPERTY = "spark.scheduler.pool"


def run_concurrently(
    spark: SparkSession,
    jobs: Mapping[str, Callable[[SparkSession], T]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[str, T | Exception], None] | None = None,
) -> dict[str, T | Exception]:
    """Run each of ``jobs`` (name -> job taking a session) with at most ``concurrency`` at once;
    returns each job's result or exception, in the order of ``jobs``. ``on_done`` is called (from
    the worker thread, one call at a time) as each job finishes."""
    from pyspark import InheritableThread

    todo: queue.Queue[str] = queue.Queue()
    for name in jobs:
        todo.put(name)
    results: dict[str, T | Exception] = {}
    report = threading.Lock()

    def worker() -> None:
        session = _session_like(spark)
        while True:
            try:
                name = todo.get_nowait()
            except queue.Empty:
                return
            session.sparkContext.setLocalProperty(POOL_PROPERTY, f"sparkfs-{name}")
            outcome: T | Exception
            try:
                outcome = jobs[name](session)
            except Exception as exc:  # returned in its place; the other jobs go on
                outcome = exc
            with report:
                results[name] = outcome
                if on_done is not None:
                    on_done(name, outcome)

    threads = [InheritableThread(target=worker, daemon=True) for _ in range(max(1, min(concurrency, len(jobs))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: results[name] for name in jobs}


def _session_like(spark: SparkSession) -> SparkSession:
    """A session over ``spark``'s application with the same runtime SQL settings."""
    session = spark.newSession()
    for key, value in spark.conf.getAll.items():
        if session.conf.get(key, None) != value and spark.conf.isModifiable(key):
            session.conf.set(key, value)
    return session
