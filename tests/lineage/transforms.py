"""Python transformations of the lineage tests' feature views (imported by dotted path)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def enrich(df: DataFrame) -> DataFrame:
    """A projection, two expressions, a rename, a constant and a filter."""
    return df.where(F.col("amount") > 0).select(
        "user_id", "ts",
        (F.col("amount") * 100).cast("long").alias("amount_cents"),
        F.upper(F.col("currency")).alias("ccy"),
        F.col("merchant_id").alias("merchant"),
        F.lit(1).cast("int").alias("one"),
    )


def doubled(df: DataFrame) -> DataFrame:
    """A union of the source with itself: which input a row came from is not in the plan."""
    return df.unionByName(df).select("user_id", "ts", "amount")
