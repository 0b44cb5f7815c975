"""Registry tables (SQLAlchemy Core). One metadata object; every store module uses these.

Append-only by design: definition versions, reviews and the audit log are only ever inserted.
On SQLite and PostgreSQL, triggers reject UPDATE/DELETE on them and inserts that would
replace a row or break the hash chain of ``audit_log`` and ``reviews`` (see
:mod:`sparkfs.registry.database` and :mod:`sparkfs.registry.chain`).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "APPEND_ONLY_TABLES",
    "audit_log",
    "backfill_chunks",
    "definition_heads",
    "definition_versions",
    "metadata",
    "quality_results",
    "reviews",
    "runs",
    "sync_checkpoints",
    "training_sets",
    "watermarks",
    "written_outputs",
]

metadata = MetaData()


def _chain_columns() -> list[Column[str]]:
    """The hash chain of an append-only table (:mod:`sparkfs.registry.chain`): nullable only so
    that a registry created before them can add them; never null once written."""
    return [Column("prev_hash", String(64), nullable=True), Column("row_hash", String(64), nullable=True)]


#: Every version of every definition ever applied (immutable history).
definition_versions = Table(
    "definition_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(128), nullable=False),
    UniqueConstraint("kind", "name", "version", name="uq_definition_version"),
)

#: What is current: one row per (kind, name); ``removed`` once it left the repository.
definition_heads = Table(
    "definition_heads",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("version", String(64), nullable=False),
    Column("removed", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Review actions (request, approve, reject, deprecate); lifecycle state is derived from them.
reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("user", String(128), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False),
    *_chain_columns(),
)

#: Append-only audit log of every apply, review action, run, sync and refusal.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("kind", String(32), nullable=True),
    Column("name", String(128), nullable=True),
    Column("version", String(64), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("details", JSON, nullable=True),
    *_chain_columns(),
)

#: Every job run (materialize, backfill chunk, sync, training set, validate).
runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("job", String(32), nullable=False),
    Column("feature_view", String(128), nullable=True),
    Column("version", String(64), nullable=True),
    Column("namespace", String(32), nullable=False, default="production"),
    Column("range_start", DateTime(timezone=True), nullable=True),
    Column("range_end", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False),
    Column("rows_in", Integer, nullable=True),
    Column("rows_out", Integer, nullable=True),
    Column("input_versions", JSON, nullable=True),
    Column("output_version", Integer, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("spark_app_id", String(128), nullable=True),
    Column("user", String(128), nullable=False),
    Column("error", Text, nullable=True),
    Column("details", JSON, nullable=True),
)

#: Finished chunks of a backfill, so a rerun after a crash resumes.
backfill_chunks = Table(
    "backfill_chunks",
    metadata,
    Column("feature_view", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("namespace", String(32), primary_key=True),
    Column("chunk_start", DateTime(timezone=True), primary_key=True),
    Column("chunk_end", DateTime(timezone=True), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
)

#: Incremental materialization watermark per feature view version.
watermarks = Table(
    "watermarks",
    metadata,
    Column("feature_view", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("namespace", String(32), primary_key=True),
    Column("watermark", DateTime(timezone=True), nullable=False),
    Column("source_versions", JSON, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Training sets built, with what they read, so they can be rebuilt identically.
training_sets = Table(
    "training_sets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("user", String(128), nullable=False),
    Column("spine", Text, nullable=False),
    Column("out", Text, nullable=False),
    Column("format", String(16), nullable=False),
    Column("features", JSON, nullable=False),
    Column("feature_service", String(128), nullable=True),
    Column("table_versions", JSON, nullable=False),
    Column("definition_versions", JSON, nullable=False),
    Column("options", JSON, nullable=True),
)

#: Paths a command wrote for its user (training sets, reproductions): what may be rewritten.
written_outputs = Table(
    "written_outputs",
    metadata,
    Column("path", Text, primary_key=True),  # normalised (sparkfs.registry.outputs.normalize_path)
    Column("kind", String(32), nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("user", String(128), nullable=False),
    Column("ref", String(64), nullable=True),  # e.g. the training set id
)

#: Online sync progress per feature view.
sync_checkpoints = Table(
    "sync_checkpoints",
    metadata,
    Column("feature_view", String(128), primary_key=True),
    Column("namespace", String(32), primary_key=True),
    Column("definition_version", String(64), nullable=False),
    Column("delta_version", Integer, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # [[name, type], ...] of the features as written (readers decode with exactly these types)
    Column("features", JSON, nullable=True),
)

#: Quality gate results per run and rule.
quality_results = Table(
    "quality_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("feature_view", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("rule", String(256), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("failed_count", Integer, nullable=True),
    Column("observed", JSON, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

APPEND_ONLY_TABLES = ("audit_log", "definition_versions", "reviews")
