"""Enforcement: production jobs and serving use approved versions only.

Production materialization, online sync, training sets for a feature service and serving all
ask :func:`require_approved` (through :mod:`sparkfs.governance.enforcement`). With
``governance.enabled: false`` every applied version counts as approved. The sandbox namespace
never asks: it writes under ``offline.sandbox_root`` and its own Redis namespace instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkfs.errors import GovernanceError, NotFoundError, TamperedRegistryError
from sparkfs.governance.lifecycle import ReviewBoard, ReviewState
from sparkfs.registry.integrity import require_intact

if TYPE_CHECKING:
    from sparkfs.pipeline.workspace import Workspace

__all__ = ["is_approved", "missing_approval", "require_approved", "require_service_approved"]


def _board(workspace: Workspace) -> ReviewBoard:
    return ReviewBoard(workspace.engine, workspace.config.governance)


def missing_approval(state: ReviewState) -> str:
    """Why ``state`` is not usable in production and what to do, in one sentence."""
    if state.state == "in_review":
        have = f"{len(state.approvals)} approval(s) ({', '.join(state.approvals)})" if state.approvals else "no approval yet"
        return (f"{state.ref} is in review with {have}; it still needs {'; '.join(state.missing)} "
                f"(`sparkfs review approve {state.name}@{state.version}`)")
    if state.state in ("draft", "rejected"):
        return (f"{state.ref} is {state.state}: not approved; the author requests review with "
                f"`sparkfs review request {state.name}`, then one of {', '.join(state.eligible) or 'the approvers (none configured: set governance.approvers)'} "
                f"approves it ({state.required} approval(s) needed)")
    return (f"{state.ref} is deprecated and may not be used in production; apply a new version and have "
            f"it approved by {', '.join(state.eligible) or 'an approver'}")


def is_approved(workspace: Workspace, kind: str, name: str, version: str) -> bool:
    """True when governance is off, or ``version`` is approved (and not deprecated)."""
    if not workspace.config.governance.enabled:
        return True
    try:
        return _board(workspace).state(kind, name, version).state == "approved"
    except NotFoundError:
        return False


def require_approved(workspace: Workspace, kind: str, name: str, version: str) -> None:
    """Return if ``version`` may be used in production; else audit the refusal and raise.

    The registry must also pass verification (:mod:`sparkfs.registry.integrity`, once per
    workspace): approvals read from a tampered registry are worth nothing.

    Raises:
        GovernanceError: naming the missing approval and who can give it, or the registry's
            first broken link.
    """
    if not workspace.config.governance.enabled:
        return
    try:
        require_intact(workspace.integrity, "the governance gate")
        state = _board(workspace).state(kind, name, version)
    except TamperedRegistryError as exc:
        reason = str(exc)
    except NotFoundError as exc:
        reason = f"{kind} {name!r} version {version} is not in the registry ({exc}); run `sparkfs apply` and have it approved"
    else:
        if state.state == "approved":
            return
        reason = missing_approval(state)
    workspace.audit.append(user=workspace.user, action="enforce.use", kind=kind, name=name, version=version,
                           outcome="refused", details={"reason": reason, "namespace": workspace.namespace})
    raise GovernanceError(reason)


def require_service_approved(workspace: Workspace, service: str) -> None:
    """A feature service's repository version and those of every feature view it reads.

    Training sets for a service call this (``sparkfs.pipeline.training_sets.resolve_refs``): a model must
    not consume a view that nobody approved just because the service listing it was approved.
    The versions checked are the repository's, the ones a training set reads.
    """
    if not workspace.config.governance.enabled or workspace.namespace == "sandbox":
        return
    from sparkfs.definitions import definition_version

    repo = workspace.repository
    refs = repo.service_features(service)  # NotFoundError for an unknown service
    require_approved(workspace, "feature_service", service,
                     definition_version(repo.feature_services[service]))
    for name in dict.fromkeys(r.view for r in refs):
        require_approved(workspace, "feature_view", name, definition_version(repo.feature_view(name)))
