"""Finding 3 of issue 21: with the SQLite file, ``REPLACE INTO`` rewrote audit and review rows
(REPLACE deletes without firing the DELETE trigger), an approved spec was rewritten under its
version hash, and forged INSERTs and ``DELETE FROM definition_heads`` were accepted, all
unnoticed. Each tampering is reproduced here with the plain driver, on SQLite and on
PostgreSQL (where ``INSERT ... ON CONFLICT DO UPDATE`` stands in for ``REPLACE``): the triggers
now refuse it, and when the adversary drops the triggers first, verification finds it and the
gate refuses."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Table, select

from sparkfs.errors import GovernanceError, TamperedRegistryError
from sparkfs.governance.enforcement import require_approved
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry.chain import row_digest
from sparkfs.registry.integrity import verify_registry
from sparkfs.registry.schema import audit_log, reviews
from tests.governance.conftest import board
from tests.project import Project
from tests.registry.tampering import Adversary


def read_row(ws: Workspace, table: Table, row_id: int) -> dict[str, Any]:
    """A row as sparkfs reads it (typed), for a forger recomputing hashes with sparkfs's code."""
    with ws.engine.connect() as conn:
        return dict(conn.execute(select(table).where(table.c.id == row_id)).mappings().one())


def adversary(ws: Workspace) -> Adversary:
    return Adversary(ws.config.registry.url)


def approved(ws: Workspace) -> str:
    """user_txn_aggs requested by its author and approved by bob; returns its version."""
    board(ws).request("author", "user_txn_aggs")
    state = board(ws).approve("bob", "user_txn_aggs", comment="lgtm")
    assert state.state == "approved"
    require_approved(ws, "feature_view", "user_txn_aggs", state.version)
    return state.version


def first_problem(ws: Workspace) -> str:
    report = verify_registry(ws.engine)
    assert not report.intact
    return report.problems[0]


def assert_gate_refuses(ws: Workspace, version: str) -> None:
    """A job started now (a fresh workspace: each verifies the registry once) is refused."""
    job = Workspace.open(ws.config, user="author")
    with pytest.raises(GovernanceError, match="governance gate refuses the registry: it fails verification"):
        require_approved(job, "feature_view", "user_txn_aggs", version)
    assert job.audit.entries()[-1].outcome == "refused"


def refused_then_forced(ws: Workspace, sql: str | dict[str, str], match: str, params: tuple[str, ...] = ()) -> None:
    """The triggers refuse ``sql``; the adversary drops them and runs it."""
    db = adversary(ws)
    with pytest.raises(db.refused, match=match):
        db.execute(sql, params)
    db.drop_triggers()
    db.execute(sql, params)


def rewrite(table: str, columns: str, where: str, updated: str) -> dict[str, str]:
    """Rewrite a row in place by inserting over it (SQLite ``REPLACE``, PostgreSQL upsert)."""
    select_ = f"SELECT {columns} FROM {table} WHERE {where}"
    return {"sqlite": f"REPLACE INTO {table} {select_}",
            "postgresql": f"INSERT INTO {table} {select_} ON CONFLICT (id) DO UPDATE SET "
                          + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in updated.split())}


def test_an_untouched_registry_verifies(ws: Workspace) -> None:
    approved(ws)
    report = verify_registry(ws.engine)
    assert report.intact and report.rows == {"audit_log": 8, "reviews": 2, "definition_versions": 6}


def test_replace_into_audit_log(ws: Workspace, project: Project) -> None:
    version = approved(ws)
    forged = rewrite("audit_log", "id, at, 'mallory', action, kind, name, version, outcome, 'rewritten', "
                     "details, prev_hash, row_hash", "id = 2", "user comment")
    refused_then_forced(ws, forged, "hash-chained")
    assert first_problem(ws) == ("audit_log row 2: its content does not match its hash: it was changed "
                                 "after it was written (e.g. by REPLACE INTO)")
    # a forger who recomputes the row's hash breaks the next row's link instead
    row = read_row(ws, audit_log, 2)
    adversary(ws).execute("UPDATE audit_log SET row_hash = ? WHERE id = 2", (row_digest(audit_log, row["prev_hash"], row),))
    assert first_problem(ws).startswith("audit_log row 3: does not link to the row before it")
    assert_gate_refuses(ws, version)
    verify = project.run("audit", "verify")
    assert verify.returncode == 1 and "BROKEN: audit_log row 3" in verify.stdout
    assert "the first broken link: audit_log row 3" in verify.stderr


def test_replace_into_reviews_changes_the_approver(ws: Workspace) -> None:
    version = approved(ws)
    forge = rewrite("reviews", "id, kind, name, version, action, 'alice', 'looks fine', at, prev_hash, row_hash",
                    "action = 'approve'", "user comment")
    refused_then_forced(ws, forge, "hash-chained")
    report = verify_registry(ws.engine)
    assert report.problems[0].startswith("reviews row 2: its content does not match its hash")
    assert "reviews row 2 (approve of feature_view 'user_txn_aggs' version" in report.problems[1]
    assert "by 'alice'): no audit entry records it" in report.problems[1]
    assert_gate_refuses(ws, version)


def test_a_spec_rewritten_under_its_version_is_refused_when_read(ws: Workspace, project: Project) -> None:
    db = adversary(ws)
    [(spec,)] = db.execute("SELECT CAST(spec AS TEXT) FROM definition_versions WHERE name = 'user_profile'")
    tampered = spec.replace("CAST(age AS INT) AS age", "CAST(age AS INT) + 1000 AS age")
    assert tampered != spec
    spec_param = "?" if db.dialect == "sqlite" else "CAST(? AS JSON)"
    forge = rewrite("definition_versions", f"id, kind, name, version, {spec_param}, created_at, created_by",
                    "name = 'user_profile'", "spec")
    refused_then_forced(ws, forge, {"sqlite": "a version is never replaced",
                                    "postgresql": "append-only"}[db.dialect], (tampered,))
    with pytest.raises(TamperedRegistryError, match=r"spec of feature_view 'user_profile' version .* does not hash"):
        board(ws).status("user_profile")
    with pytest.raises(TamperedRegistryError):
        ws.definitions.history("feature_view", "user_profile")
    assert "its spec does not hash to its version" in first_problem(ws)
    describe = project.run("describe", "user_profile")
    assert describe.returncode == 1 and "does not hash to its version" in describe.stderr
    status = project.run("review", "status", "user_profile")
    assert status.returncode == 1 and "sparkfs audit verify" in status.stderr


def test_forged_inserts(ws: Workspace) -> None:
    version = approved(ws)
    db = adversary(ws)
    forged_review = ('INSERT INTO reviews (id, kind, name, version, action, "user", comment, at) '
                     "SELECT (SELECT max(id) + 1 FROM reviews), kind, name, version, 'approve', 'alice', '', at "
                     "FROM reviews WHERE id = 1")
    with pytest.raises(db.refused, match={"sqlite": "a version is never replaced",
                                          "postgresql": "duplicate key"}[db.dialect]):
        db.execute("INSERT INTO definition_versions SELECT * FROM definition_versions LIMIT 1")
    refused_then_forced(ws, forged_review, "hash-chained")
    assert first_problem(ws) == "reviews row 3: has no hash: it was written outside sparkfs (a forged INSERT)"
    assert_gate_refuses(ws, version)


def test_a_forger_who_knows_the_chain_is_caught_by_the_audit_log(ws: Workspace) -> None:
    approved(ws)
    adversary(ws).drop_triggers()
    last = read_row(ws, reviews, 2)
    row = {**last, "id": 3, "user": "alice", "comment": ""}
    adversary(ws).execute(  # the same columns as the real approval, another approver
        "INSERT INTO reviews SELECT 3, kind, name, version, action, 'alice', '', at, ?, ? "
        "FROM reviews WHERE id = 2", (last["row_hash"], row_digest(reviews, last["row_hash"], row)))
    assert first_problem(ws).startswith("reviews row 3 (approve of feature_view 'user_txn_aggs'")
    assert first_problem(ws).endswith("by 'alice'): no audit entry records it (a forged INSERT)")


def test_definition_heads_deleted_or_moved(ws: Workspace) -> None:
    db = adversary(ws)
    with pytest.raises(db.refused, match={"sqlite": "never deleted", "postgresql": "append-only"}[db.dialect]):
        db.execute("DELETE FROM definition_heads WHERE name = 'user_profile'")
    db.drop_triggers()
    db.execute("DELETE FROM definition_heads WHERE name = 'user_profile'")
    db.execute("UPDATE definition_heads SET version = 'feedfacefeedface' WHERE name = 'user_txn_aggs'")
    problems = verify_registry(ws.engine).problems
    assert problems[0].startswith("definition_heads (feature_view 'user_profile'): missing, but the audit "
                                  "log applied version")
    assert problems[1].startswith("definition_heads (feature_view 'user_txn_aggs'): points at version "
                                  "feedfacefeedface but the last apply in the audit log left")


def test_anchors_catch_a_cut_tail_and_a_recomputed_chain(ws: Workspace, project: Project) -> None:
    approved(ws)
    anchor = verify_registry(ws.engine).anchors["audit_log"]
    assert anchor.startswith("audit_log#8:")
    db = adversary(ws)
    db.drop_triggers()
    db.execute("DELETE FROM audit_log WHERE id >= 7")  # the approval cut off: the rest still chains
    assert not [p for p in verify_registry(ws.engine).problems if p.startswith("audit_log")]
    assert verify_registry(ws.engine, [anchor]).problems[0] == (
        "anchor audit_log#8: the row is gone (the table was cut back to before it)")
    cut = project.run("audit", "verify", "--anchor", anchor)
    assert cut.returncode == 1 and "anchor audit_log#8: the row is gone" in cut.stderr
    for row_id in (7, 8):  # put back rows 7-8 with a recomputed chain (a different row 7)
        prev = read_row(ws, audit_log, row_id - 1)["row_hash"]
        row = {**read_row(ws, audit_log, 6), "id": row_id, "comment": "forged"}
        db.execute('INSERT INTO audit_log SELECT ?, at, "user", action, kind, name, version, outcome, '
                   "'forged', details, ?, ? FROM audit_log WHERE id = 6",
                   (row_id, prev, row_digest(audit_log, prev, row)))
    assert verify_registry(ws.engine, [anchor]).problems[0].startswith(
        "anchor audit_log#8: its hash is now")
