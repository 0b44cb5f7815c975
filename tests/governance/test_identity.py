"""Finding 2 of issue 21: the acting user was whatever ``--user`` / ``$SPARKFS_USER`` said, so
``SPARKFS_USER=alice sparkfs review approve`` approved as alice. ``governance.identity`` now
chooses how principals are established, and each impersonation attempt below is refused (and
audited) unless the project says it trusts its users."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparkfs.config import load_config
from sparkfs.errors import ConfigError, GovernanceError
from sparkfs.governance.identity import Identity, review_refusal
from sparkfs.pipeline.workspace import Workspace
from sparkfs.serving.auth import hash_key
from tests.governance.conftest import GOVERNANCE, board
from tests.project import Project, make_project
from tests.serving.conftest import anyio_backend, app_client, open_project  # noqa: F401  (fixture)


def audit(project: Project) -> list[tuple[str, str, str]]:
    return [(e["user"], e["action"], e["outcome"])
            for e in json.loads(project.run("audit", "--json").stdout) if e["action"].startswith("review")]


def test_trusted_mode_says_loudly_that_nothing_is_checked(project: Project) -> None:
    assert project.run("apply").returncode == 0
    requested = project.run("review", "request", "user_txn_aggs")
    assert requested.returncode == 0
    assert "warning: governance.identity is trusted: acting as 'tester' because --user / $SPARKFS_USER" in requested.stderr
    assert "anyone can claim any name" in requested.stderr


def test_api_key_mode_refuses_every_review_from_the_cli(tmp_path: Path) -> None:
    project = make_project(tmp_path, extra=GOVERNANCE + "  identity: api_key\n")
    assert project.run("apply").returncode == 0
    for args, env in [(("review", "approve", "user_txn_aggs"), {"SPARKFS_USER": "alice"}),
                      (("--user", "alice", "review", "approve", "user_txn_aggs"), {}),
                      (("--user", "bob", "review", "reject", "user_txn_aggs"), {}),
                      (("review", "request", "user_txn_aggs"), {})]:
        refused = project.run(*args, env=env)
        assert refused.returncode == 1, refused.stdout
        assert "governance.identity is api_key" in refused.stderr and "POST /v1/reviews/NAME/" in refused.stderr
    assert audit(project) == [("alice", "review.approve", "refused"), ("alice", "review.approve", "refused"),
                              ("bob", "review.reject", "refused"), ("tester", "review.request", "refused")]
    status = json.loads(project.run("review", "status", "--json").stdout)
    assert {s["name"]: s["state"] for s in status}["user_txn_aggs"] == "draft"


KEYS = {name: f"key-{name}" for name in ("alice", "bob", "mallory", "reader")}
SERVER = f"""  auth_enabled: true
  api_keys:
    - {{name: alice, sha256: {hash_key(KEYS["alice"])}, scopes: [review]}}
    - {{name: bob, sha256: {hash_key(KEYS["bob"])}, scopes: [review, "*"]}}
    - {{name: mallory, sha256: {hash_key(KEYS["mallory"])}, scopes: [review]}}
    - {{name: reader, sha256: {hash_key(KEYS["reader"])}, scopes: ["*"]}}
governance:
  enabled: true
  identity: api_key
  approvers: [alice, bob]
"""


def _as(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


@pytest.mark.anyio
async def test_api_key_mode_reviews_through_the_server_as_the_key(tmp_path: Path, redis_url: str) -> None:
    project = open_project(tmp_path, redis_url, SERVER)  # applied by "tester"
    served = app_client(project.config, project.workspace)
    async with served as client:
        url = "/v1/reviews/users"
        assert (await client.post(f"{url}/request", headers=_as("alice"))).json()["state"] == "in_review"
        # the key decides who acts: a claimed name in the body is not even accepted
        claim = await client.post(f"{url}/approve", headers=_as("mallory"), json={"user": "alice"})
        assert claim.status_code == 422 and "user" in claim.json()["error"]["message"]
        outsider = await client.post(f"{url}/approve", headers=_as("mallory"))
        assert outsider.status_code == 403 and "mallory is not an approver" in outsider.json()["error"]["message"]
        own_request = await client.post(f"{url}/approve", headers=_as("alice"))
        assert own_request.status_code == 403 and "alice requested the review" in own_request.json()["error"]["message"]
        no_scope = await client.post(f"{url}/approve", headers=_as("reader"))
        assert no_scope.status_code == 403 and "lack 'review'" in no_scope.json()["error"]["message"]
        anonymous = await client.post(f"{url}/approve")
        assert anonymous.status_code == 401
        approved = await client.post(f"{url}/approve", headers=_as("bob"), json={"comment": "lgtm"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["state"] == "approved" and approved.json()["approvals"] == ["bob"]
        await served.app.state.sparkfs.refresh_now()  # the approved view is now served
        views = (await client.get("/v1/feature-views", headers=_as("bob"))).json()
        assert [v["name"] for v in views] == ["users"]
    entries = [(e.user, e.action, e.outcome) for e in project.workspace.audit.entries() if e.action.startswith("review")]
    assert entries == [("alice", "review.request", "ok"), ("mallory", "review.approve", "refused"),
                       ("alice", "review.approve", "refused"), ("reader", "review.approve", "refused"),
                       ("bob", "review.approve", "ok")]


@pytest.mark.anyio
async def test_reviews_through_the_server_need_auth(tmp_path: Path, redis_url: str) -> None:
    project = open_project(tmp_path, redis_url, "governance: {enabled: true, approvers: [alice]}\n")
    async with app_client(project.config, project.workspace) as client:
        refused = await client.post("/v1/reviews/users/request")
        assert refused.status_code == 403 and "serving.auth_enabled: true" in refused.json()["error"]["message"]


def test_database_mode_refuses_a_sqlite_registry(tmp_path: Path) -> None:
    project = make_project(tmp_path, extra=GOVERNANCE + "  identity: database\n")
    with pytest.raises(ConfigError, match=r"governance.identity is database, but registry.url is a SQLite file"):
        load_config(project.config)
    listed = project.run("list")
    assert listed.returncode == 1 and "use a PostgreSQL registry" in listed.stderr


@pytest.mark.parametrize(("claimed", "refused"), [(None, False), ("bob", False), ("alice", True)])
def test_database_mode_refuses_a_claim_that_is_not_the_database_user(claimed: str | None, refused: bool) -> None:
    reason = review_refusal(Identity("bob", "database", claimed), "approve")
    assert (reason is not None) == refused
    if reason is not None:
        assert "says 'alice', but this command is authenticated as the database user 'bob'" in reason


def test_a_refused_identity_is_audited(ws: Workspace) -> None:
    reason = review_refusal(Identity("bob", "database", "alice"), "approve")
    assert reason is not None
    board(ws).request("author", "user_txn_aggs")
    with pytest.raises(GovernanceError, match="authenticated as the database user 'bob'"):
        board(ws, identity="api_key").refuse("bob", "approve", "user_txn_aggs", reason=reason)
    last = ws.audit.entries()[-1]
    assert (last.user, last.action, last.outcome) == ("bob", "review.approve", "refused")
    assert board(ws).state("feature_view", "user_txn_aggs").approvals == ()
