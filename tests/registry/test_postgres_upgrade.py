"""A PostgreSQL registry created by the previous version (audit_log and reviews without hash
columns) opens: its rows are sealed once, chained appends follow, the old triggers still hold."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from sparkfs.registry import AuditLog, open_engine
from sparkfs.registry.integrity import verify_registry
from tests.postgres_server import PostgresServer

LEGACY = [
    'CREATE TABLE audit_log (id SERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL, "user" VARCHAR(128) NOT NULL, '
    "action VARCHAR(64) NOT NULL, kind VARCHAR(32), name VARCHAR(128), version VARCHAR(64), "
    "outcome VARCHAR(32) NOT NULL, comment TEXT NOT NULL, details JSON)",
    "CREATE TABLE reviews (id SERIAL PRIMARY KEY, kind VARCHAR(32) NOT NULL, name VARCHAR(128) NOT NULL, "
    'version VARCHAR(64) NOT NULL, action VARCHAR(32) NOT NULL, "user" VARCHAR(128) NOT NULL, '
    "comment TEXT NOT NULL, at TIMESTAMPTZ NOT NULL)",
    "CREATE FUNCTION sparkfs_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION "
    "'% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW "
    "EXECUTE FUNCTION sparkfs_append_only()",
    "CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews FOR EACH ROW "
    "EXECUTE FUNCTION sparkfs_append_only()",
    'INSERT INTO audit_log (at, "user", action, outcome, comment, details) VALUES '
    "(now(), 'old', 'enforce.use', 'refused', 'c', '{\"reason\": [1, 2]}')",
]


@pytest.fixture()
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        server.sql("CREATE DATABASE sparkfs")
        with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="sparkfs",
                             autocommit=True) as conn:
            for statement in LEGACY:
                conn.execute(statement)  # type: ignore[call-overload]
        yield server


@pytest.mark.slow
def test_a_postgres_registry_of_the_previous_version_is_upgraded(postgres: PostgresServer) -> None:
    engine = open_engine(postgres.url("postgres"))
    AuditLog(engine).append(user="new", action="enforce.use", outcome="ok")
    again = open_engine(postgres.url("postgres"))  # a second open changes nothing
    report = verify_registry(again)
    assert report.intact and report.rows["audit_log"] == 3, report.problems
    actions = [(e.user, e.action) for e in AuditLog(again).entries()]
    assert actions == [("old", "enforce.use"), ("sparkfs", "registry.upgrade"), ("new", "enforce.use")]
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname="sparkfs") as conn, \
            pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("UPDATE audit_log SET comment = 'x'")
    engine.dispose()
    again.dispose()
