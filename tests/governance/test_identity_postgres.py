"""``governance.identity: database`` on a real PostgreSQL registry: the acting user is the
database login (``current_user``), whatever ``--user`` / ``$SPARKFS_USER`` claims (issue 21,
finding 2), and the registry's append-only triggers and hash chains hold there too (finding 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.governance.conftest import GOVERNANCE
from tests.postgres_server import PostgresServer
from tests.project import Project, make_project

ROLES = """CREATE ROLE registry LOGIN; CREATE ROLE alice LOGIN IN ROLE registry;
CREATE ROLE bob LOGIN IN ROLE registry; CREATE ROLE tester LOGIN IN ROLE registry;
CREATE DATABASE sparkfs OWNER registry"""
#: A fresh schema whose tables every login may use, whoever created them (docs/governance.md).
SCHEMA = """DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public AUTHORIZATION registry;
ALTER DEFAULT PRIVILEGES FOR ROLE alice, bob, tester IN SCHEMA public GRANT ALL ON TABLES TO registry;
ALTER DEFAULT PRIVILEGES FOR ROLE alice, bob, tester IN SCHEMA public GRANT ALL ON SEQUENCES TO registry"""


@pytest.fixture(scope="module")
def postgres(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """The session's server, with the logins and the ``sparkfs`` database of this module."""
    postgres_server.sql(ROLES)
    yield postgres_server
    postgres_server.sql("DROP DATABASE sparkfs WITH (FORCE); DROP ROLE alice; DROP ROLE bob; "
                        "DROP ROLE tester; DROP ROLE registry")


@pytest.fixture()
def project(tmp_path: Path, postgres: PostgresServer) -> Iterator[Project]:
    postgres.sql(SCHEMA, database="sparkfs")
    made = make_project(tmp_path, extra=GOVERNANCE + "  identity: database\n")
    text = made.config.read_text().replace('registry: {url: "sqlite:///../registry.db"}',
                                           f'registry: {{url: "{postgres.url("tester")}"}}')
    made.config.write_text(text)
    yield made


def as_login(postgres: PostgresServer, login: str, **env: str) -> dict[str, str]:
    """The environment of a CLI run logged in to the registry as ``login``."""
    return {"SPARKFS__REGISTRY__URL": postgres.url(login), "SPARKFS_USER": "", **env}


@pytest.mark.slow
def test_the_database_login_is_who_acts(project: Project, postgres: PostgresServer) -> None:
    applied = project.run("apply", env=as_login(postgres, "alice", SPARKFS_USER="carol"))
    assert applied.returncode == 0, applied.stderr
    assert "Applied 6 change(s) as alice." in applied.stdout and "not 'carol'" in applied.stderr
    assert project.run("review", "request", "user_txn_aggs", env=as_login(postgres, "alice")).returncode == 0
    # impersonation: alice claims to be bob, by option and by environment
    for extra, env in [(("--user", "bob"), {}), ((), {"SPARKFS_USER": "bob"})]:
        claim = project.run(*extra, "review", "approve", "user_txn_aggs", env=as_login(postgres, "alice", **env))
        assert claim.returncode == 1
        assert "says 'bob', but this command is authenticated as the database user 'alice'" in claim.stderr
    own = project.run("review", "approve", "user_txn_aggs", env=as_login(postgres, "alice"))
    assert own.returncode == 1 and "alice authored" in own.stderr
    approved = project.run("review", "approve", "user_txn_aggs", "-m", "ok", env=as_login(postgres, "bob"))
    assert approved.returncode == 0 and "approved (approvals 1/1: bob)" in approved.stdout, approved.stderr
    entries = json.loads(project.run("audit", "user_txn_aggs", "--json", env=as_login(postgres, "bob")).stdout)
    assert [(e["user"], e["action"], e["outcome"]) for e in entries] == [
        ("alice", "apply.add", "ok"), ("alice", "review.request", "ok"),
        ("alice", "review.approve", "refused"), ("alice", "review.approve", "refused"),
        ("alice", "review.approve", "refused"), ("bob", "review.approve", "ok")]
    verify = project.run("audit", "verify", env=as_login(postgres, "bob"))
    assert verify.returncode == 0 and "registry verified: intact" in verify.stdout


@pytest.mark.slow
def test_postgres_triggers_refuse_edits_and_unchained_rows(project: Project, postgres: PostgresServer) -> None:
    assert project.run("apply", env=as_login(postgres, "alice")).returncode == 0
    for statement, message in [
        ("UPDATE audit_log SET \"user\" = 'mallory'", "append-only"),
        ("DELETE FROM audit_log", "append-only"),
        ("UPDATE definition_versions SET created_by = 'bob'", "append-only"),
        ("DELETE FROM definition_heads", "append-only"),
        ("INSERT INTO audit_log (id, at, \"user\", action, outcome, comment) "
         "VALUES (100, now(), 'alice', 'review.approve', 'ok', '')", "hash-chained"),
        ("INSERT INTO definition_versions SELECT * FROM definition_versions LIMIT 1", "duplicate key"),
    ]:
        with psycopg.connect(host="127.0.0.1", port=postgres.port, user="alice", dbname="sparkfs") as conn, \
                pytest.raises(psycopg.Error, match=message):
            conn.execute(statement)  # type: ignore[arg-type]
