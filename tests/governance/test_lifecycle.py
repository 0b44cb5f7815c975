"""The review workflow: states, roles, refusals, and that every action is audited."""

from __future__ import annotations

import pytest

from sparkfs.errors import GovernanceError, NotFoundError
from sparkfs.pipeline.workspace import Workspace
from tests.governance.conftest import board, reapply_changed
from tests.project import Project

VIEW = "user_txn_aggs"  # tags: {domain: payments}, no PII
PII_VIEW = "user_profile"  # tagged pii: needs carol too


def audit_outcomes(ws: Workspace, name: str) -> list[tuple[str, str, str]]:
    return [(e.user, e.action, e.outcome) for e in ws.audit.entries(name) if e.action.startswith("review.")]


def test_draft_request_approve_deprecate(ws: Workspace) -> None:
    b = board(ws)
    assert b.state("feature_view", VIEW).state == "draft"
    assert b.request("author", VIEW, comment="please").state == "in_review"
    approved = b.approve("alice", VIEW, comment="lgtm")
    assert approved.state == "approved" and approved.approvals == ("alice",)
    deprecated = b.deprecate("author", VIEW, comment="superseded")
    assert deprecated.state == "deprecated"
    assert audit_outcomes(ws, VIEW) == [
        ("author", "review.request", "ok"), ("alice", "review.approve", "ok"), ("author", "review.deprecate", "ok"),
    ]
    approve = next(e for e in ws.audit.entries(VIEW) if e.action == "review.approve")
    assert approve.comment == "lgtm" and approve.details == {"from": "in_review", "to": "approved"}
    assert approve.at is not None and approve.version == deprecated.version


def test_author_cannot_approve_own_version(project: Project) -> None:
    ws = Workspace.open(str(project.config), user="alice")
    from sparkfs.registry import DefinitionStore

    DefinitionStore(ws.engine).apply(ws.repository, user="alice")  # alice is an approver AND the author
    b = board(ws)
    b.request("alice", VIEW)
    with pytest.raises(GovernanceError, match=r"alice authored .* cannot approve it; ask one of: bob, dave"):
        b.approve("alice", VIEW, comment="self")
    assert b.state("feature_view", VIEW).state == "in_review"
    assert audit_outcomes(ws, VIEW)[-1] == ("alice", "review.approve", "refused")
    assert b.approve("bob", VIEW).state == "approved"


def test_non_approver_is_refused_naming_who_can(ws: Workspace) -> None:
    b = board(ws)
    b.request("author", VIEW)
    with pytest.raises(GovernanceError, match=r"mallory is not an approver .*approvers: alice, bob, dave"):
        b.approve("mallory", VIEW)
    with pytest.raises(GovernanceError, match="mallory is not an approver"):
        b.reject("mallory", VIEW)
    refused = [e for e in ws.audit.entries(VIEW) if e.outcome == "refused"]
    assert [e.action for e in refused] == ["review.approve", "review.reject"]
    assert "approvers: alice" in refused[0].details["reason"]


def test_stale_version_cannot_be_approved(project: Project, ws: Workspace) -> None:
    b = board(ws)
    old = b.request("author", PII_VIEW).version
    fresh = reapply_changed(project, ws, "Slowly changing user profile attributes.", "Profile attributes.")
    new = board(fresh).state("feature_view", PII_VIEW)
    assert new.version != old and new.state == "draft" and new.current
    with pytest.raises(GovernanceError, match=rf"version {old} is stale.*the current one is {new.version}"):
        board(fresh).approve("alice", f"{PII_VIEW}@{old[:6]}")  # a prefix names the version
    assert audit_outcomes(fresh, PII_VIEW)[-1] == ("alice", "review.approve", "refused")
    history = {s.version: s.state for s in board(fresh).status(PII_VIEW)}
    assert history == {old: "in_review", new.version: "draft"}


def test_rejection_discards_approvals_and_can_be_rerequested(ws: Workspace) -> None:
    b = board(ws, required_approvals=2)
    b.request("author", VIEW)
    assert b.approve("alice", VIEW).state == "in_review"
    rejected = b.reject("bob", VIEW, comment="window too short")
    assert rejected.state == "rejected" and rejected.approvals == ()
    with pytest.raises(GovernanceError, match="is rejected; only a version in review can be approved"):
        b.approve("dave", VIEW)
    with pytest.raises(GovernanceError, match="only an approved version can be deprecated"):
        b.deprecate("alice", VIEW)
    again = b.request("author", VIEW, comment="fixed")
    assert again.state == "in_review" and again.approvals == ()
    assert b.approve("dave", VIEW).state == "in_review"  # alice's old approval no longer counts
    assert b.approve("alice", VIEW).state == "approved"


def test_n_distinct_approvals(ws: Workspace) -> None:
    b = board(ws, required_approvals=3)
    b.request("author", VIEW)
    assert b.approve("alice", VIEW).missing == ("2 more approval(s) from bob, dave",)
    with pytest.raises(GovernanceError, match="alice already approved"):
        b.approve("alice", VIEW)
    assert b.approve("bob", VIEW).state == "in_review"
    final = b.approve("dave", VIEW)
    assert final.state == "approved" and final.approvals == ("alice", "bob", "dave")
    # the policy is applied when the state is read: a stricter config re-opens the review
    assert board(ws, required_approvals=4).state("feature_view", VIEW).state == "in_review"


def test_tag_approvers_are_required_for_tagged_views(ws: Workspace) -> None:
    b = board(ws, required_approvals=2)
    b.request("author", PII_VIEW)
    b.approve("alice", PII_VIEW)
    after_bob = b.approve("bob", PII_VIEW)
    assert after_bob.state == "in_review"
    assert after_bob.missing == ("an approval from a 'pii' approver (carol)",)
    assert b.approve("carol", PII_VIEW).state == "approved"
    # carol approves only what carries her tag
    b.request("author", VIEW)
    with pytest.raises(GovernanceError, match="carol is not an approver"):
        b.approve("carol", VIEW)


def test_exact_tag_value_rules(ws: Workspace) -> None:
    b = board(ws, approvers_by_tag={"domain=payments": ["paula"], "domain=users": ["uma"]})
    assert set(b.state("feature_view", VIEW).eligible) == {"alice", "bob", "dave", "paula"}
    b.request("author", VIEW)
    assert b.approve("alice", VIEW).state == "in_review"  # still needs paula
    assert b.approve("paula", VIEW).state == "approved"


def test_request_twice_and_unknown_names(ws: Workspace) -> None:
    b = board(ws)
    b.request("author", VIEW)
    with pytest.raises(GovernanceError, match="is in_review; only a draft or rejected"):
        b.request("author", VIEW)
    with pytest.raises(NotFoundError, match="no definition named 'nope'"):
        b.request("author", "nope")
    with pytest.raises(NotFoundError, match="no version of feature_view 'user_txn_aggs' matches 'ffff'"):
        b.approve("alice", f"{VIEW}@ffff")
    states = {(s.kind, s.name): s.state for s in b.status()}
    assert states[("feature_view", VIEW)] == "in_review" and states[("entity", "user")] == "draft"
