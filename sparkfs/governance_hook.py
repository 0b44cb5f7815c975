"""The one place that decides whether a definition version may be used in production.

Until the review workflow is enabled (``governance.enabled``), every applied version counts as
approved. The governance package replaces the body of :func:`require_approved`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sparkfs.workspace import Workspace

__all__ = ["is_approved", "require_approved"]


def is_approved(workspace: Workspace, kind: str, name: str, version: str) -> bool:
    return True


def require_approved(workspace: Workspace, kind: str, name: str, version: str) -> None:
    """Raise GovernanceError naming the missing approval and who can give it."""
    return None
