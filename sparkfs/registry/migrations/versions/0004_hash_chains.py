"""Hash chains over ``audit_log`` and ``reviews``; insert triggers that refuse forgeries.

Both tables get ``prev_hash`` and ``row_hash`` and their existing rows are sealed as they are
(:func:`sparkfs.registry.chain.seal`: the digest is the contract ``sparkfs audit verify``
checks, so it is imported, not copied). Rows written without a hash after this are forgeries.
New triggers refuse an insert that does not extend a chain (which also stops SQLite's
``REPLACE``, which deletes without firing DELETE triggers), a definition version that would
replace another, and a deleted ``definition_heads`` row.

Revision ID: 0004_hash_chains
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from sparkfs.registry.chain import GENESIS, seal

revision = "0004_hash_chains"
down_revision = "0003_written_outputs"
branch_labels = None
depends_on = None

CHAINED = ("audit_log", "reviews")
_frozen = sa.MetaData()
_TABLES = {
    "audit_log": sa.Table(
        "audit_log", _frozen,
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("user", sa.String(128)), sa.Column("action", sa.String(64)),
        sa.Column("kind", sa.String(32)), sa.Column("name", sa.String(128)),
        sa.Column("version", sa.String(64)), sa.Column("outcome", sa.String(32)),
        sa.Column("comment", sa.Text), sa.Column("details", sa.JSON),
        sa.Column("prev_hash", sa.String(64)), sa.Column("row_hash", sa.String(64)),
    ),
    "reviews": sa.Table(
        "reviews", _frozen,
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.String(32)),
        sa.Column("name", sa.String(128)), sa.Column("version", sa.String(64)),
        sa.Column("action", sa.String(32)), sa.Column("user", sa.String(128)),
        sa.Column("comment", sa.Text), sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("prev_hash", sa.String(64)), sa.Column("row_hash", sa.String(64)),
    ),
}

_SQLITE_CHAIN = """
CREATE TRIGGER {table}_chain
BEFORE INSERT ON {table}
WHEN NEW.row_hash IS NULL
  OR NEW.id IS NOT COALESCE((SELECT max(id) FROM {table}), 0) + 1
  OR NEW.prev_hash IS NOT COALESCE((SELECT row_hash FROM {table} ORDER BY id DESC LIMIT 1), '{genesis}')
BEGIN SELECT RAISE(ABORT, '{table} rows are hash-chained: append through sparkfs'); END
"""
_SQLITE_OTHERS = [
    """CREATE TRIGGER definition_versions_no_replace
BEFORE INSERT ON definition_versions
WHEN EXISTS (SELECT 1 FROM definition_versions WHERE id = NEW.id
             OR (kind = NEW.kind AND name = NEW.name AND version = NEW.version))
BEGIN SELECT RAISE(ABORT, 'definition_versions is append-only: a version is never replaced'); END""",
    """CREATE TRIGGER definition_heads_no_DELETE
BEFORE DELETE ON definition_heads
BEGIN SELECT RAISE(ABORT, 'definition_heads rows are never deleted (a removed definition is marked removed)'); END""",
]
_PG_CHAIN_FUNCTION = """
CREATE OR REPLACE FUNCTION sparkfs_chain_append() RETURNS trigger AS $$
DECLARE last_id bigint; last_hash text;
BEGIN
  EXECUTE format('SELECT id, row_hash FROM %I ORDER BY id DESC LIMIT 1', TG_TABLE_NAME)
    INTO last_id, last_hash;
  IF NEW.row_hash IS NULL OR NEW.id IS DISTINCT FROM COALESCE(last_id, 0) + 1
     OR NEW.prev_hash IS DISTINCT FROM COALESCE(last_hash, '{genesis}') THEN
    RAISE EXCEPTION '% rows are hash-chained: append through sparkfs', TG_TABLE_NAME;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    sealed: dict[str, int] = {}
    for name in CHAINED:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
            batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
        sealed[name] = _seal(dialect, name)
    context.config.attributes.setdefault("sealed_rows", {}).update(sealed)
    if dialect == "sqlite":
        for name in CHAINED:
            op.execute(_SQLITE_CHAIN.format(table=name, genesis=GENESIS))
        for statement in _SQLITE_OTHERS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(_PG_CHAIN_FUNCTION.format(genesis=GENESIS))
        for name in CHAINED:
            op.execute(f"CREATE TRIGGER {name}_chain BEFORE INSERT ON {name} "
                       "FOR EACH ROW EXECUTE FUNCTION sparkfs_chain_append()")
        op.execute("CREATE TRIGGER definition_heads_no_delete BEFORE DELETE ON definition_heads "
                   "FOR EACH ROW EXECUTE FUNCTION sparkfs_append_only()")


def _seal(dialect: str, name: str) -> int:
    """Seal the rows as found: lift the table's UPDATE trigger for that, then put it back."""
    if dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {name}_no_UPDATE")
    elif dialect == "postgresql":
        op.execute(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")
        op.execute(f"DROP TRIGGER IF EXISTS {name}_append_only ON {name}")
    count = seal(op.get_bind(), _TABLES[name])
    if dialect == "sqlite":
        op.execute(f"CREATE TRIGGER {name}_no_UPDATE BEFORE UPDATE ON {name} "
                   f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END")
    elif dialect == "postgresql":
        op.execute(f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
                   "FOR EACH ROW EXECUTE FUNCTION sparkfs_append_only()")
    return count


def downgrade() -> None:
    raise NotImplementedError("registry revisions only go forward: restore a backup instead")
