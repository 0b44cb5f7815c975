"""Sync checkpoints record the feature types they wrote (readers decode with exactly these).

Revision ID: 0002_checkpoint_features
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_checkpoint_features"
down_revision = "0001_first_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_checkpoints") as batch:
        batch.add_column(sa.Column("features", sa.JSON, nullable=True))


def downgrade() -> None:
    raise NotImplementedError("registry revisions only go forward: restore a backup instead")
