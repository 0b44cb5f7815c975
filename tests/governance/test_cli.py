"""`sparkfs review` and `sparkfs audit` through the real CLI (subprocess, no Spark)."""

from __future__ import annotations

import json

from tests.project import Project


def test_review_and_audit_commands(project: Project) -> None:
    assert project.run("apply").returncode == 0  # as SPARKFS_USER=tester
    requested = project.run("review", "request", "user_txn_aggs", "-m", "new windows")
    assert requested.returncode == 0 and "in_review (approvals 0/1: none)" in requested.stdout
    own = project.run("review", "approve", "user_txn_aggs")
    assert own.returncode == 1 and "tester authored" in own.stderr and "ask one of: alice, bob, dave" in own.stderr
    outsider = project.run("--user", "mallory", "review", "approve", "user_txn_aggs")
    assert outsider.returncode == 1 and "approvers: alice, bob, dave" in outsider.stderr
    approved = project.run("review", "approve", "user_txn_aggs", "--comment", "lgtm", env={"SPARKFS_USER": "bob"})
    assert approved.returncode == 0 and "approved (approvals 1/1: bob)" in approved.stdout
    rejected = project.run("--user", "alice", "review", "reject", "user_txn_aggs", "-m", "wrong ttl")
    assert rejected.returncode == 0 and ": rejected" in rejected.stdout
    assert project.run("--user", "alice", "review", "deprecate", "user_txn_aggs").returncode == 1
    status = project.run("review", "status", "--json")
    states = {s["name"]: s["state"] for s in json.loads(status.stdout)}
    assert states["user_txn_aggs"] == "rejected" and states["user_profile"] == "draft"
    table = project.run("review", "status", "user_txn_aggs")
    assert table.returncode == 0 and "rejected" in table.stdout
    audit = project.run("audit", "user_txn_aggs", "--json")
    entries = [(e["user"], e["action"], e["outcome"], e["comment"]) for e in json.loads(audit.stdout)]
    assert entries == [
        ("tester", "apply.add", "ok", ""),
        ("tester", "review.request", "ok", "new windows"),
        ("tester", "review.approve", "refused", ""),
        ("mallory", "review.approve", "refused", ""),
        ("bob", "review.approve", "ok", "lgtm"),
        ("alice", "review.reject", "ok", "wrong ttl"),
        ("alice", "review.deprecate", "refused", ""),
    ]
    listing = project.run("audit")
    assert listing.returncode == 0 and "tester authored" in listing.stdout and "apply.add" in listing.stdout
