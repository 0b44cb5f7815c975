"""The one place that decides whether a definition version may be used in production.

Production materialization (:meth:`sparkfs.workspace.Workspace.usable_version`), online sync,
training sets for a feature service and serving call these two functions. With
``governance.enabled: false`` every applied version counts as approved; with it on, a version
must have gone through review (see :mod:`sparkfs.governance.lifecycle`). A refusal is written to
the audit log before the :class:`~sparkfs.errors.GovernanceError` is raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sparkfs.workspace import Workspace

__all__ = ["is_approved", "require_approved"]


def is_approved(workspace: Workspace, kind: str, name: str, version: str) -> bool:
    """True when ``version`` may be used in production (no audit entry; for listings)."""
    from sparkfs.governance.enforcement import is_approved as _is_approved

    return _is_approved(workspace, kind, name, version)


def require_approved(workspace: Workspace, kind: str, name: str, version: str) -> None:
    """Raise GovernanceError naming the missing approval and who can give it."""
    from sparkfs.governance.enforcement import require_approved as _require_approved

    _require_approved(workspace, kind, name, version)
