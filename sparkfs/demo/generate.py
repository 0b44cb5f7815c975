"""A deterministic e-commerce demo data set, written as Delta tables by the executors.

The demo feeds the examples, the tests and the benchmarks: users with slowly changing profiles,
merchants, card transactions with realistic quirks (late arrivals, exact duplicates, nulls) and a
fraud label table to use as a training spine. The same ``seed`` and ``rows`` give the same rows
on any cluster and any number of partitions, so a result computed on a laptop can be compared
with one computed on a cluster. See docs/demo-data.md for the columns and properties.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sparkfs.demo.tables import (
    ANCHOR,
    WINDOW_DAYS,
    DemoSpec,
    fraud_labels_frame,
    merchants_frame,
    transactions_frame,
    users_frame,
)
from sparkfs.errors import ValidationError
from sparkfs.pipeline.outputs import Protected, check_output, list_entries

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["ANCHOR", "TABLES", "WINDOW_DAYS", "DemoSummary", "generate_demo_data"]

#: Table names, in the order they are written; each is a directory under ``out_dir``.
TABLES = ("users", "merchants", "transactions", "fraud_labels")

MIN_ROWS = 100


@dataclass(frozen=True)
class DemoSummary:
    """Where the demo tables were written and how many rows each holds.

    ``users_rows`` and ``merchants_rows`` count profile versions; ``users`` and ``merchants``
    count distinct ids. ``transactions_rows`` includes the exact duplicates.
    """

    out_dir: str
    seed: int
    rows: int
    users_path: str
    merchants_path: str
    transactions_path: str
    fraud_labels_path: str
    users: int
    merchants: int
    users_rows: int
    merchants_rows: int
    transactions_rows: int
    fraud_labels_rows: int


def generate_demo_data(
    spark: SparkSession,
    out_dir: str,
    *,
    rows: int,
    seed: int = 42,
    partitions: int | None = None,
    anchor: datetime = ANCHOR,
    overwrite: bool = False,
    protected: Iterable[Protected] = (),
) -> DemoSummary:
    """Write the four demo Delta tables under ``out_dir``, replacing an earlier demo there.

    Args:
        spark: the session to run on; all rows are computed and written by its executors.
        out_dir: a directory path or any Hadoop-compatible URI.
        rows: distinct transactions (10k to 10M is the intended range); users ~ rows/20,
            merchants ~ rows/200.
        seed: every random value derives from it; the same seed gives the same rows.
        anchor: the end of the 60-day transaction window (fixed by default, so a seed always
            gives the same rows; the end-to-end demo passes today so values are fresh online).
        partitions: input partitions of the generating ``range``; the default is Spark's
            default parallelism. It changes only the layout, never the rows.
        overwrite: replace whatever ``out_dir`` holds; without it only a new path or an
            earlier demo (nothing but demo Delta tables) is written.
        protected: locations ``out_dir`` must not overlap, even with ``overwrite``
            (:func:`sparkfs.pipeline.outputs.protected_locations`: the offline and sandbox roots ...).

    Raises:
        ValidationError: ``rows`` or ``partitions`` is out of range, or ``out_dir`` holds
            something else (see :mod:`sparkfs.pipeline.outputs`).
    """
    if rows < MIN_ROWS:
        raise ValidationError(f"rows={rows}: the demo needs at least {MIN_ROWS} transactions")
    if partitions is not None and partitions < 1:
        raise ValidationError(f"partitions={partitions}: pass a positive number or leave it out")
    check_output(spark, out_dir, what="demo data set", protected=protected,
                 own=_holds_demo(spark, out_dir), overwrite=overwrite)
    spec = DemoSpec(rows=rows, seed=seed, anchor=anchor)
    base = out_dir.rstrip("/")
    paths = {name: f"{base}/{name}" for name in TABLES}

    def ids(n: int) -> DataFrame:
        return spark.range(0, n, 1, partitions) if partitions else spark.range(n)

    users = users_frame(ids(spec.n_users * 4), spec)
    merchants = merchants_frame(ids(spec.n_merchants * 3), spec)
    # One task per event date writes that date's file: a few files per partition, not one per
    # input task and date.
    transactions = transactions_frame(ids(rows), spec).repartition("dt")
    labels = fraud_labels_frame(ids(rows), spec)
    counts = {
        "users": _write(users, paths["users"]),
        "merchants": _write(merchants, paths["merchants"]),
        "transactions": _write(transactions, paths["transactions"], partition_by="dt"),
        "fraud_labels": _write(labels, paths["fraud_labels"]),
    }
    return DemoSummary(
        out_dir=base,
        seed=seed,
        rows=rows,
        users_path=paths["users"],
        merchants_path=paths["merchants"],
        transactions_path=paths["transactions"],
        fraud_labels_path=paths["fraud_labels"],
        users=spec.n_users,
        merchants=spec.n_merchants,
        users_rows=counts["users"],
        merchants_rows=counts["merchants"],
        transactions_rows=counts["transactions"],
        fraud_labels_rows=counts["fraud_labels"],
    )


def _holds_demo(spark: SparkSession, out_dir: str) -> bool:
    """An earlier demo: a directory holding demo tables (Delta) and nothing else."""
    entries = list_entries(spark, out_dir)
    if not entries or entries == [""] or not set(entries) <= set(TABLES):
        return False
    base = out_dir.rstrip("/")
    return all("_delta_log" in (list_entries(spark, f"{base}/{name}") or []) for name in entries)


def _write(df: DataFrame, path: str, *, partition_by: str | None = None) -> int:
    """Overwrite the Delta table at ``path`` and return the rows written.

    The count comes from the commit's own metrics, so it costs no second pass over the data.
    """
    from delta.tables import DeltaTable

    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(partition_by)
    writer.save(path)
    spark = df.sparkSession
    last = DeltaTable.forPath(spark, path).history(1).select("operationMetrics").first()
    metrics = last["operationMetrics"] if last is not None else None
    if not metrics or "numOutputRows" not in metrics:
        return spark.read.format("delta").load(path).count()
    return int(metrics["numOutputRows"])
