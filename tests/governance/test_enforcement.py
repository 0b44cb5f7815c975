"""The hook production jobs, sync, training sets and serving call; and the audit log's integrity."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from sparkfs.errors import GovernanceError
from sparkfs.governance import require_service_approved
from sparkfs.governance.enforcement import is_approved, require_approved
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import AuditLog
from tests.governance.conftest import board

VIEW = "user_txn_aggs"


def head(ws: Workspace, kind: str, name: str) -> str:
    return ws.definitions.heads()[(kind, name)]


def test_require_approved_names_the_missing_approval_and_audits(ws: Workspace) -> None:
    version = head(ws, "feature_view", VIEW)
    assert not is_approved(ws, "feature_view", VIEW, version)
    with pytest.raises(GovernanceError, match=r"is draft: not approved.*one of alice, bob, dave approves it"):
        require_approved(ws, "feature_view", VIEW, version)
    board(ws, required_approvals=2).request("author", VIEW)
    board(ws, required_approvals=2).approve("bob", VIEW)
    strict = replace(ws, config=ws.config.model_copy(
        update={"governance": ws.config.governance.model_copy(update={"required_approvals": 2})}))
    with pytest.raises(GovernanceError, match=r"in review with 1 approval\(s\) \(bob\); it still needs 1 more approval\(s\) from alice, dave"):
        require_approved(strict, "feature_view", VIEW, version)
    refusals = [e for e in ws.audit.entries(VIEW) if e.action == "enforce.use"]
    assert [e.outcome for e in refusals] == ["refused", "refused"]
    assert refusals[0].user == "author" and refusals[0].details["namespace"] == "production"
    require_approved(ws, "feature_view", VIEW, version)  # one approval suffices under the default config
    assert is_approved(ws, "feature_view", VIEW, version)


def test_deprecated_and_unknown_versions_are_refused(ws: Workspace) -> None:
    version = head(ws, "feature_view", VIEW)
    b = board(ws)
    b.request("author", VIEW)
    b.approve("alice", VIEW)
    b.deprecate("alice", VIEW)
    with pytest.raises(GovernanceError, match="is deprecated and may not be used in production"):
        require_approved(ws, "feature_view", VIEW, version)
    with pytest.raises(GovernanceError, match="not in the registry"):
        require_approved(ws, "feature_view", VIEW, "0000000000000000")
    assert not is_approved(ws, "feature_view", VIEW, "0000000000000000")


def test_governance_disabled_approves_everything(ws: Workspace) -> None:
    off = replace(ws, config=ws.config.model_copy(
        update={"governance": ws.config.governance.model_copy(update={"enabled": False})}))
    version = head(ws, "feature_view", VIEW)
    assert is_approved(off, "feature_view", VIEW, version)
    require_approved(off, "feature_view", VIEW, version)
    require_service_approved(off, "fraud_model")


def test_usable_version_enforces_in_production_only(ws: Workspace) -> None:
    view = ws.repository.feature_view(VIEW)
    with pytest.raises(GovernanceError, match="is draft"):
        ws.usable_version(view)
    assert ws.in_namespace("sandbox").usable_version(view) == head(ws, "feature_view", VIEW)
    board(ws).request("author", VIEW)
    board(ws).approve("dave", VIEW)
    assert ws.usable_version(view) == head(ws, "feature_view", VIEW)


def test_feature_service_needs_itself_and_every_view_it_reads(ws: Workspace) -> None:
    b = board(ws)
    for name in ("fraud_model", "user_txn_aggs", "merchant_txn_aggs"):
        b.request("author", name)
        b.approve("alice", name)
    with pytest.raises(GovernanceError, match="feature_view 'user_profile'"):
        require_service_approved(ws, "fraud_model")  # user_profile is still a draft
    b.request("author", "user_profile")
    b.approve("carol", "user_profile")  # PII: the tag approver's approval is required
    require_service_approved(ws, "fraud_model")
    require_service_approved(ws.in_namespace("sandbox"), "fraud_model")


def test_audit_log_cannot_be_tampered_with(ws: Workspace) -> None:
    public = {n for n in dir(AuditLog) if not n.startswith("_")}
    assert public == {"append", "append_in", "entries"}  # no update or delete API exists
    board(ws).request("author", VIEW)  # row triggers only fire on tables that have rows
    before = ws.audit.entries()
    assert before and before[0].action == "apply.add"
    for statement in ("UPDATE audit_log SET outcome = 'ok', user = 'nobody'", "DELETE FROM audit_log",
                      "UPDATE reviews SET user = 'x'", "DELETE FROM reviews", "DELETE FROM definition_versions"):
        with pytest.raises(SQLAlchemyError, match="append-only"), ws.engine.begin() as conn:
            conn.execute(text(statement))
    assert ws.audit.entries() == before


def test_training_sets_check_every_view_they_read_in_both_forms(ws: Workspace) -> None:
    from sparkfs.pipeline.training_sets import resolve_refs

    b = board(ws)
    for name in ("fraud_model", "user_txn_aggs", "merchant_txn_aggs"):
        b.request("author", name)
        b.approve("alice", name)
    # the service is approved, one view it reads is still a draft: refused, and audited
    with pytest.raises(GovernanceError, match=r"feature_view 'user_profile'.*draft"):
        resolve_refs(ws, None, "fraud_model")
    assert ws.audit.entries("user_profile")[-1].outcome == "refused"
    # features= naming the unapproved view directly: refused too (it used to check nothing)
    with pytest.raises(GovernanceError, match="feature_view 'user_profile'"):
        resolve_refs(ws, ["user_profile:age"], None)
    assert [r.view for r in resolve_refs(ws, ["user_txn_aggs:txn_count_1d"], None)] == ["user_txn_aggs"]
    # the sandbox may read drafts
    assert resolve_refs(ws.in_namespace("sandbox"), ["user_profile:age"], None)
    assert resolve_refs(ws.in_namespace("sandbox"), None, "fraud_model")
    # a deprecated view is refused again, in both forms
    b.request("author", "user_profile")
    b.approve("carol", "user_profile")
    assert resolve_refs(ws, None, "fraud_model")
    b.deprecate("alice", "user_txn_aggs")
    with pytest.raises(GovernanceError, match="user_txn_aggs"):
        resolve_refs(ws, ["user_txn_aggs:txn_count_1d"], None)
    with pytest.raises(GovernanceError, match="user_txn_aggs"):
        resolve_refs(ws, None, "fraud_model")
