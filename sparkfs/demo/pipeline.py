"""The end-to-end demo: generate data, apply, materialize, build a training set, sync, look up.

This is what the README's main command runs (``sparkfs demo run``), on the embedded defaults:
local Spark, local Delta tables, the SQLite registry and a local redis-server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkfs.demo.generate import generate_demo_data

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.pipeline.workspace import Workspace

__all__ = ["run_demo_pipeline"]


def run_demo_pipeline(
    spark: SparkSession, workspace: Workspace, *, rows: int = 100_000, seed: int = 42,
    say: Callable[[str], None] = print, online: bool = True, overwrite: bool = False,
) -> dict[str, Any]:
    """Run every stage once and return a summary of what each produced.

    ``overwrite`` lets the demo data and the training set replace whatever their directories
    (``data_dir/demo``, ``data_dir/training_sets/fraud_model``) hold; see :mod:`sparkfs.pipeline.outputs`.
    """
    from sparkfs.pipeline.materialize import materialize
    from sparkfs.pipeline.outputs import protected_locations
    from sparkfs.pipeline.training_sets import write_training_set

    summary: dict[str, Any] = {}
    clock = time.monotonic()
    out = str(Path(workspace.config.data_dir) / "demo")
    say(f"[1/5] generating {rows} demo transactions under {out}")
    # Anchor the data at today's midnight so values are within their ttl when served.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    demo = generate_demo_data(spark, out, rows=rows, seed=seed, anchor=today, overwrite=overwrite,
                              protected=protected_locations(workspace.config, sources=False))
    summary["demo"] = {"transactions": demo.transactions_rows, "users": demo.users, "merchants": demo.merchants}
    say("[2/5] applying the feature repository")
    plan = workspace.definitions.apply(workspace.repository, user=workspace.user)
    summary["applied_changes"] = len(plan.changes)
    say("[3/5] materializing feature views")
    summary["materialized"] = {}
    for name in sorted(workspace.repository.feature_views):
        run = materialize(spark, workspace, name)
        summary["materialized"][name] = {"rows_written": run.rows_out, "table_version": run.output_version,
                                         "seconds": round(run.duration_s or 0, 1)}
        say(f"      {name}: {run.rows_out} rows, table version {run.output_version}")
    say("[4/5] building the fraud_model training set from the fraud labels")
    ts_out = str(Path(workspace.config.data_dir) / "training_sets" / "fraud_model")
    record = write_training_set(spark, workspace, spine_path=demo.fraud_labels_path, out=ts_out,
                                feature_service="fraud_model", timestamp_column="ts",
                                overwrite=overwrite)
    summary["training_set"] = {"id": record.id, "out": ts_out, "table_versions": record.table_versions,
                               "rows": spark.read.parquet(ts_out).count()}
    say(f"      training set {record.id}: {summary['training_set']['rows']} rows -> {ts_out}")
    if online:
        summary["online"] = _sync_and_lookup(spark, workspace, say)
    summary["seconds"] = round(time.monotonic() - clock, 1)
    return summary


def _sync_and_lookup(spark: SparkSession, workspace: Workspace, say: Callable[[str], None]) -> dict[str, Any]:
    from sparkfs.online.reader import OnlineReader
    from sparkfs.pipeline.consistency import check_consistency
    from sparkfs.pipeline.sync import online_target, online_view, sync_online

    say("[5/5] syncing online feature views to Redis and looking up a few users")
    out: dict[str, Any] = {"synced": {}}
    for result in sync_online(spark, workspace):
        out["synced"][result.view_name] = {"mode": result.mode, "entities_written": result.entities_written,
                                           "seconds": round(result.duration_s, 1)}
        say(f"      {result.view_name}: {result.entities_written} entities ({result.mode})")
    views = [online_view(spark, workspace, name)[0] for name in ("user_profile", "user_txn_aggs")]
    reader = OnlineReader(online_target(workspace))
    try:
        rows = [{"user_id": uid} for uid in (1, 2, 3)]
        answers = reader.read(views, rows)
    finally:
        reader.close()
    out["lookup"] = [
        {"user_id": row["user_id"], **{
            name: {"status": str(v.status), "event_time": v.event_time, "values": v.values}
            for name, v in answer.items()}}
        for row, answer in zip(rows, answers, strict=True)
    ]
    out["consistency"] = {}
    for check in check_consistency(spark, workspace, sample=1000):
        out["consistency"][check.view] = {"checked": check.checked, "mismatched": check.mismatched}
        say(f"      online = offline now for {check.view}: {check.mismatched} of {check.checked} "
            "sampled entities differ")
    return out
