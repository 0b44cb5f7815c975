"""``written_outputs``: the paths a command wrote for its user (what may be rewritten).

Revision ID: 0003_written_outputs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_written_outputs"
down_revision = "0002_checkpoint_features"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "written_outputs",
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("ref", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    raise NotImplementedError("registry revisions only go forward: restore a backup instead")
