"""Where a feature view's offline table is, in a workspace's namespace.

The table's directory is named after the view and a fingerprint of its declared columns
(:meth:`sparkfs.definitions.schema.ViewSchema.declared_columns`), so a definition that changes
the table's shape writes a new table instead of mixing shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkfs.definitions.schema import ViewSchema
from sparkfs.offline.table import OfflineTable, schema_fingerprint

if TYPE_CHECKING:
    from sparkfs.definitions import FeatureView
    from sparkfs.pipeline.workspace import Workspace

__all__ = ["offline_table", "stored_columns"]


def stored_columns(workspace: Workspace, view: FeatureView) -> list[tuple[str, str]]:
    """The declared stored columns of a view (:meth:`ViewSchema.declared_columns`)."""
    return ViewSchema.of(view, workspace.repository.join_keys(view)).declared_columns()


def offline_table(workspace: Workspace, view: FeatureView) -> OfflineTable:
    """The offline table of ``view`` under the workspace's offline root (production or sandbox)."""
    return OfflineTable(view=view.name, root=workspace.offline_root,
                        fingerprint=schema_fingerprint(stored_columns(workspace, view)))
