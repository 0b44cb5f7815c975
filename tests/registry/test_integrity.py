"""Finding 3 of issue 21: with the SQLite file, ``REPLACE INTO`` rewrote audit and review rows
(REPLACE deletes without firing the DELETE trigger), an approved spec was rewritten under its
version hash, and forged INSERTs and ``DELETE FROM definition_heads`` were accepted, all
unnoticed. Each tampering is reproduced here with raw sqlite3: the triggers now refuse it, and
when the adversary drops the triggers first, verification finds it and the gate refuses."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select

from sparkfs.errors import GovernanceError, TamperedRegistryError
from sparkfs.governance.enforcement import require_approved
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import open_engine
from sparkfs.registry.chain import row_digest
from sparkfs.registry.integrity import verify_registry
from sparkfs.registry.schema import audit_log, reviews
from tests.governance.conftest import board
from tests.project import Project
from tests.registry.tampering import drop_triggers, legacy_registry, raw


def read_row(ws: Workspace, table: Table, row_id: int) -> dict[str, Any]:
    """A row as sparkfs reads it (typed), for a forger recomputing hashes with sparkfs's code."""
    with ws.engine.connect() as conn:
        return dict(conn.execute(select(table).where(table.c.id == row_id)).mappings().one())


def db_path(ws: Workspace) -> Path:
    return Path(ws.config.registry.url[len("sqlite:///"):])


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


def refused_then_forced(ws: Workspace, sql: str, match: str, params: tuple[str, ...] = ()) -> None:
    """The triggers refuse ``sql``; the adversary drops them and runs it."""
    with raw(db_path(ws)) as db, pytest.raises(sqlite3.IntegrityError, match=match):
        db.execute(sql, params)
    drop_triggers(db_path(ws))
    with raw(db_path(ws)) as db:
        db.execute(sql, params)


def test_an_untouched_registry_verifies(ws: Workspace) -> None:
    approved(ws)
    report = verify_registry(ws.engine)
    assert report.intact and report.rows == {"audit_log": 8, "reviews": 2, "definition_versions": 6}


def test_replace_into_audit_log(ws: Workspace, project: Project) -> None:
    version = approved(ws)
    rewrite = ("REPLACE INTO audit_log SELECT id, at, 'mallory', action, kind, name, version, outcome, "
               "'rewritten', details, prev_hash, row_hash FROM audit_log WHERE id = 2")
    refused_then_forced(ws, rewrite, "hash-chained")
    assert first_problem(ws) == ("audit_log row 2: its content does not match its hash: it was changed "
                                 "after it was written (e.g. by REPLACE INTO)")
    # a forger who recomputes the row's hash breaks the next row's link instead
    row = read_row(ws, audit_log, 2)
    with raw(db_path(ws)) as db:
        db.execute("UPDATE audit_log SET row_hash = ? WHERE id = 2", (row_digest(audit_log, row["prev_hash"], row),))
    assert first_problem(ws).startswith("audit_log row 3: does not link to the row before it")
    assert_gate_refuses(ws, version)
    verify = project.run("audit", "verify")
    assert verify.returncode == 1 and "BROKEN: audit_log row 3" in verify.stdout
    assert "the first broken link: audit_log row 3" in verify.stderr


def test_replace_into_reviews_changes_the_approver(ws: Workspace) -> None:
    version = approved(ws)
    forge = ("REPLACE INTO reviews SELECT id, kind, name, version, action, 'alice', 'looks fine', at, "
             "prev_hash, row_hash FROM reviews WHERE action = 'approve'")
    refused_then_forced(ws, forge, "hash-chained")
    report = verify_registry(ws.engine)
    assert report.problems[0].startswith("reviews row 2: its content does not match its hash")
    assert "reviews row 2 (approve of feature_view 'user_txn_aggs' version" in report.problems[1]
    assert "by 'alice'): no audit entry records it" in report.problems[1]
    assert_gate_refuses(ws, version)


def test_a_spec_rewritten_under_its_version_is_refused_when_read(ws: Workspace, project: Project) -> None:
    path = db_path(ws)
    with raw(path) as db:
        (spec,) = db.execute("SELECT spec FROM definition_versions WHERE name = 'user_profile'").fetchone()
    tampered = spec.replace("CAST(age AS INT) AS age", "CAST(age AS INT) + 1000 AS age")
    assert tampered != spec
    forge = ("REPLACE INTO definition_versions SELECT id, kind, name, version, ?, created_at, created_by "
             "FROM definition_versions WHERE name = 'user_profile'")
    refused_then_forced(ws, forge, "a version is never replaced", (tampered,))
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
    path = db_path(ws)
    forged_review = ("INSERT INTO reviews (kind, name, version, action, user, comment, at) "
                     "SELECT kind, name, version, 'approve', 'alice', '', at FROM reviews LIMIT 1")
    with raw(path) as db, pytest.raises(sqlite3.IntegrityError, match="a version is never replaced"):
        db.execute("INSERT INTO definition_versions SELECT * FROM definition_versions LIMIT 1")
    refused_then_forced(ws, forged_review, "hash-chained")
    assert first_problem(ws) == "reviews row 3: has no hash: it was written outside sparkfs (a forged INSERT)"
    assert_gate_refuses(ws, version)


def test_a_forger_who_knows_the_chain_is_caught_by_the_audit_log(ws: Workspace) -> None:
    approved(ws)
    drop_triggers(db_path(ws))
    last = read_row(ws, reviews, 2)
    row = {**last, "id": 3, "user": "alice", "comment": ""}
    with raw(db_path(ws)) as db:  # the same columns as the real approval, another approver
        db.execute("INSERT INTO reviews SELECT 3, kind, name, version, action, 'alice', '', at, ?, ? "
                   "FROM reviews WHERE id = 2", (last["row_hash"], row_digest(reviews, last["row_hash"], row)))
    assert first_problem(ws).startswith("reviews row 3 (approve of feature_view 'user_txn_aggs'")
    assert first_problem(ws).endswith("by 'alice'): no audit entry records it (a forged INSERT)")


def test_definition_heads_deleted_or_moved(ws: Workspace) -> None:
    path = db_path(ws)
    with raw(path) as db, pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        db.execute("DELETE FROM definition_heads WHERE name = 'user_profile'")
    drop_triggers(path)
    with raw(path) as db:
        db.execute("DELETE FROM definition_heads WHERE name = 'user_profile'")
        db.execute("UPDATE definition_heads SET version = 'feedfacefeedface' WHERE name = 'user_txn_aggs'")
    problems = verify_registry(ws.engine).problems
    assert problems[0].startswith("definition_heads (feature_view 'user_profile'): missing, but the audit "
                                  "log applied version")
    assert problems[1].startswith("definition_heads (feature_view 'user_txn_aggs'): points at version "
                                  "feedfacefeedface but the last apply in the audit log left")


def test_a_registry_of_the_previous_version_is_upgraded_and_sealed(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    legacy_registry(path, [("tester", "enforce.use", "refused", ""), ("bob", "review.approve", "refused", "no")])
    engine = open_engine(f"sqlite:///{path}")
    report = verify_registry(engine)
    assert report.intact and report.rows["audit_log"] == 3
    with raw(path) as db:
        rows = db.execute("SELECT user, action, comment, details FROM audit_log ORDER BY id").fetchall()
    assert rows[:2] == [("tester", "enforce.use", "", None), ("bob", "review.approve", "no", None)]
    assert rows[2][1] == "registry.upgrade" and json.loads(rows[2][3])["sealed_rows"] == 2
    with raw(path) as db, pytest.raises(sqlite3.IntegrityError, match="hash-chained"):
        db.execute("INSERT INTO audit_log (at, user, action, outcome, comment) VALUES (1, 'x', 'y', 'ok', '')")
    drop_triggers(path)
    with raw(path) as db:  # a row without a hash after the upgrade is a forgery: never sealed
        db.execute("INSERT INTO audit_log (at, user, action, outcome, comment) VALUES "
                   "('2026-01-02 00:00:00.000000', 'x', 'y', 'ok', '')")
    again = open_engine(f"sqlite:///{path}")
    assert verify_registry(again).problems == ("audit_log row 4: has no hash: it was written outside "
                                               "sparkfs (a forged INSERT)",)


def test_anchors_catch_a_cut_tail_and_a_recomputed_chain(ws: Workspace, project: Project) -> None:
    approved(ws)
    anchor = verify_registry(ws.engine).anchors["audit_log"]
    assert anchor.startswith("audit_log#8:")
    drop_triggers(db_path(ws))
    with raw(db_path(ws)) as db:  # the last two entries (the approval) cut off: the rest still chains
        db.execute("DELETE FROM audit_log WHERE id >= 7")
    assert not [p for p in verify_registry(ws.engine).problems if p.startswith("audit_log")]
    assert verify_registry(ws.engine, [anchor]).problems[0] == (
        "anchor audit_log#8: the row is gone (the table was cut back to before it)")
    cut = project.run("audit", "verify", "--anchor", anchor)
    assert cut.returncode == 1 and "anchor audit_log#8: the row is gone" in cut.stderr
    with raw(db_path(ws)) as db:  # put back rows 7-8 with a recomputed chain (a different row 7)
        for row_id in (7, 8):
            prev = read_row(ws, audit_log, row_id - 1)["row_hash"]
            row = {**read_row(ws, audit_log, 6), "id": row_id, "comment": "forged"}
            db.execute("INSERT INTO audit_log SELECT ?, at, user, action, kind, name, version, outcome, "
                       "'forged', details, ?, ? FROM audit_log WHERE id = 6",
                       (row_id, prev, row_digest(audit_log, prev, row)))
            db.commit()
    assert verify_registry(ws.engine, [anchor]).problems[0].startswith(
        "anchor audit_log#8: its hash is now")
