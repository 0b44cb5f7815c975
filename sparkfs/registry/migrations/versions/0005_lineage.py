"""``lineage_runs`` and ``lineage_datasets``: what every run read and wrote (append-only).

Both tables refuse UPDATE and DELETE like the audit log; on SQLite an insert that would replace
a row (``REPLACE``, which deletes without firing DELETE triggers) is refused too (PostgreSQL's
``ON CONFLICT DO UPDATE`` fires the UPDATE trigger).

Revision ID: 0005_lineage
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_lineage"
down_revision = "0004_hash_chains"
branch_labels = None
depends_on = None

_KEYS = {"lineage_runs": "run_id", "lineage_datasets": "id"}


def upgrade() -> None:
    op.create_table(
        "lineage_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("feature_view", sa.String(128), nullable=True),
        sa.Column("namespace", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("spark_app_id", sa.String(128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("definitions", sa.JSON, nullable=False),
        sa.Column("code", sa.JSON, nullable=False),
        sa.Column("details", sa.JSON, nullable=True),
    )
    op.create_table(
        "lineage_datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("facets", sa.JSON, nullable=True),
    )
    op.create_index("ix_lineage_datasets_run_id", "lineage_datasets", ["run_id"])
    dialect = op.get_bind().dialect.name
    for table, key in _KEYS.items():
        if dialect == "sqlite":
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action} BEFORE {action} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
            op.execute(f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                       f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key}) "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: lineage is never replaced'); END")
        elif dialect == "postgresql":
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION sparkfs_append_only()")


def downgrade() -> None:
    raise NotImplementedError("registry revisions only go forward: restore a backup instead")
