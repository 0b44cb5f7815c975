"""The first schema: the registry as the first sparkfs created it.

Definition versions and heads, reviews, the audit log, runs, backfill chunks, watermarks,
training sets, sync checkpoints and quality results; triggers reject UPDATE and DELETE on the
append-only tables (no hash chains yet).

Revision ID: 0001_first_schema
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_first_schema"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_log", "definition_versions", "reviews")


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "definition_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        _at("created_at"),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("kind", "name", "version", name="uq_definition_version"),
    )
    op.create_table(
        "definition_heads",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False),
        _at("updated_at"),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        _at("at"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _at("at"),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=True),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("feature_view", sa.String(128), nullable=True),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("namespace", sa.String(32), nullable=False),
        _at("range_start", nullable=True),
        _at("range_end", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_in", sa.Integer, nullable=True),
        sa.Column("rows_out", sa.Integer, nullable=True),
        sa.Column("input_versions", sa.JSON, nullable=True),
        sa.Column("output_version", sa.Integer, nullable=True),
        _at("started_at"),
        _at("ended_at", nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("spark_app_id", sa.String(128), nullable=True),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
    )
    op.create_table(
        "backfill_chunks",
        sa.Column("feature_view", sa.String(128), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("namespace", sa.String(32), primary_key=True),
        sa.Column("chunk_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("chunk_end", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        _at("completed_at"),
    )
    op.create_table(
        "watermarks",
        sa.Column("feature_view", sa.String(128), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("namespace", sa.String(32), primary_key=True),
        _at("watermark"),
        sa.Column("source_versions", sa.JSON, nullable=True),
        _at("updated_at"),
    )
    op.create_table(
        "training_sets",
        sa.Column("id", sa.String(64), primary_key=True),
        _at("created_at"),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("spine", sa.Text, nullable=False),
        sa.Column("out", sa.Text, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("feature_service", sa.String(128), nullable=True),
        sa.Column("table_versions", sa.JSON, nullable=False),
        sa.Column("definition_versions", sa.JSON, nullable=False),
        sa.Column("options", sa.JSON, nullable=True),
    )
    op.create_table(
        "sync_checkpoints",
        sa.Column("feature_view", sa.String(128), primary_key=True),
        sa.Column("namespace", sa.String(32), primary_key=True),
        sa.Column("definition_version", sa.String(64), nullable=False),
        sa.Column("delta_version", sa.Integer, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        _at("updated_at"),
    )
    op.create_table(
        "quality_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("feature_view", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(256), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("failed_count", sa.Integer, nullable=True),
        sa.Column("observed", sa.JSON, nullable=True),
        _at("at"),
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action} BEFORE {action} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    elif dialect == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION sparkfs_append_only() RETURNS trigger AS $$ "
                   "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION sparkfs_append_only()")


def downgrade() -> None:
    raise NotImplementedError("the first schema has nothing to go back to")
