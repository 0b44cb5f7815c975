"""Schema revisions (issue 20, item 3): a registry made by the first schema is upgraded in place
by ``sparkfs registry upgrade`` on SQLite and PostgreSQL, keeping its rows, sealing its history
and getting every trigger; a registry at another revision is refused, with what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, select, text

from sparkfs.errors import RegistryError
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import AuditLog, migration, open_engine
from sparkfs.registry.database import connect
from sparkfs.registry.integrity import verify_registry
from sparkfs.registry.migration import VERSION_TABLE, head_revision, schema_status, upgrade_registry
from sparkfs.registry.schema import metadata
from tests.governance.conftest import GOVERNANCE, board, with_registry
from tests.project import REPO_ROOT, Project, make_project
from tests.registry import first_schema
from tests.registry.tampering import Adversary

FIRST = "0001_first_schema"
#: Triggers a registry at the newest revision has (both backends name them differently).
TRIGGERS = {
    "sqlite": {"audit_log_no_UPDATE", "audit_log_no_DELETE", "reviews_no_UPDATE", "reviews_no_DELETE",
               "definition_versions_no_UPDATE", "definition_versions_no_DELETE", "audit_log_chain",
               "reviews_chain", "definition_versions_no_replace", "definition_heads_no_DELETE",
               "lineage_runs_no_UPDATE", "lineage_runs_no_DELETE", "lineage_runs_no_replace",
               "lineage_datasets_no_UPDATE", "lineage_datasets_no_DELETE", "lineage_datasets_no_replace"},
    "postgresql": {"audit_log_append_only", "reviews_append_only", "definition_versions_append_only",
                   "audit_log_chain", "reviews_chain", "definition_heads_no_delete",
                   "lineage_runs_append_only", "lineage_datasets_append_only"},
}


def schema_drift(engine: Engine) -> list[Any]:
    """How the database's tables differ from what the code declares (empty: none)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(context, metadata)
                if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]


def registry_of_the_first_schema(tmp_path: Path, url: str) -> None:
    """What the first sparkfs left after an apply and a review request: made with today's code
    on a scratch registry, then copied (the first schema's columns only) into one made with the
    first schema's own tables, as if the first sparkfs had written it."""
    ws = Workspace.open(str(make_project(tmp_path / "scratch", extra=GOVERNANCE).config), user="author")
    ws.definitions.apply(ws.repository, user="author")
    board(ws).request("author", "user_txn_aggs", comment="please")
    ws.runs.start("materialize", user="author", feature_view="user_profile", version="v1")
    first_schema.create_first_schema(url)
    target = connect(url)
    with ws.engine.connect() as source, target.begin() as conn:
        for table in first_schema.metadata.sorted_tables:
            rows = [{c.name: r[c.name] for c in table.columns}
                    for r in source.execute(select(metadata.tables[table.name])).mappings()]
            if rows:
                conn.execute(insert(table), rows)
    target.dispose()
    ws.engine.dispose()


@pytest.fixture()
def project(tmp_path: Path, registry_url: str) -> Project:
    return with_registry(make_project(tmp_path / "project", extra=GOVERNANCE), registry_url)


def test_a_new_registry_is_created_at_the_newest_revision(registry_url: str, registry_backend: str) -> None:
    engine = open_engine(registry_url)
    status = schema_status(engine)
    assert (status.current, status.state) == (head_revision(), "current")
    assert schema_drift(engine) == []
    assert Adversary(registry_url).triggers() == TRIGGERS[registry_backend]
    assert AuditLog(engine).entries() == []  # creating is not an upgrade: nothing to record
    engine.dispose()


@pytest.mark.slow
def test_a_registry_of_the_first_schema_is_upgraded_in_place(
        tmp_path: Path, registry_url: str, registry_backend: str, project: Project) -> None:
    registry_of_the_first_schema(tmp_path, registry_url)
    with pytest.raises(RegistryError, match=r"has schema revision 0001_first_schema \(recognised: no revision "
                       r"recorded\), older than this sparkfs's 0005_lineage: run `sparkfs registry upgrade`"):
        open_engine(registry_url)
    listed = project.run("list")
    assert listed.returncode == 1 and "run `sparkfs registry upgrade`" in listed.stderr
    status = project.run("registry", "status")
    assert status.returncode == 1 and "behind by 4 revision(s)" in status.stdout, status.stdout

    upgraded = project.run("registry", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.splitlines() == [
        "applied 0002_checkpoint_features", "applied 0003_written_outputs", "applied 0004_hash_chains",
        "applied 0005_lineage",
        "registry upgraded from 0001_first_schema to 0005_lineage (sealed 7 audit_log row(s), "
        "1 reviews row(s))"]

    engine = open_engine(registry_url)
    assert schema_drift(engine) == []
    assert Adversary(registry_url).triggers() == TRIGGERS[registry_backend]
    entries = AuditLog(engine).entries()
    assert [e.action for e in entries] == ["apply.add"] * 6 + ["review.request", "registry.upgrade"]
    assert entries[-1].user == "tester" and entries[-1].details == {
        "from": FIRST, "to": head_revision(), "sealed_rows": {"audit_log": 7, "reviews": 1},
        "applied": ["0002_checkpoint_features", "0003_written_outputs", "0004_hash_chains", "0005_lineage"]}
    ws = Workspace.open(str(project.config), user="author")  # rows kept, and usable
    assert len(ws.definitions.heads()) == 6
    assert board(ws).state("feature_view", "user_txn_aggs").state == "in_review"
    assert [r.feature_view for r in ws.runs.list()] == ["user_profile"]
    assert board(ws).approve("bob", "user_txn_aggs").state == "approved"  # chained appends follow
    verify = project.run("audit", "verify")
    assert verify.returncode == 0 and "registry verified: intact" in verify.stdout, verify.stdout + verify.stderr

    db = Adversary(registry_url)  # tampering is still refused after the upgrade
    for statement, message in [('UPDATE audit_log SET "user" = \'mallory\'', "append-only"),
                               ("DELETE FROM reviews", "append-only"),
                               ("UPDATE definition_versions SET created_by = 'bob'", "append-only"),
                               ("DELETE FROM definition_heads", "never deleted|append-only"),
                               ('INSERT INTO audit_log (id, at, "user", action, outcome, comment) '
                                "VALUES (100, '2026-01-02 00:00:00', 'x', 'y', 'ok', '')", "hash-chained")]:
        with pytest.raises(db.refused, match=message):
            db.execute(statement)
    again = project.run("registry", "upgrade")
    assert again.returncode == 0 and again.stdout.strip() == "registry already at revision 0005_lineage: nothing to do"
    engine.dispose()


def test_a_row_without_a_hash_after_the_upgrade_is_a_forgery(registry_url: str) -> None:
    first_schema.create_first_schema(registry_url)
    db = Adversary(registry_url)
    db.execute('INSERT INTO audit_log (at, "user", action, outcome, comment) '
               "VALUES ('2026-01-01 00:00:00', 'tester', 'enforce.use', 'refused', '')")
    done = upgrade_registry(connect(registry_url))
    assert (done.before, done.after, done.sealed_rows) == (FIRST, head_revision(), {"audit_log": 1, "reviews": 0})
    db.drop_triggers()
    db.execute('INSERT INTO audit_log (id, at, "user", action, outcome, comment) '
               "VALUES (3, '2026-01-02 00:00:00', 'x', 'y', 'ok', '')")
    assert verify_registry(open_engine(registry_url)).problems == (
        "audit_log row 3: has no hash: it was written outside sparkfs (a forged INSERT)",)


def test_a_registry_of_the_newest_shape_without_a_revision_opens_and_gets_one(registry_url: str) -> None:
    """As the sparkfs before revisions left a registry that had the hash chains."""
    open_engine(registry_url).dispose()
    with connect(registry_url).begin() as conn:
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    status = schema_status(connect(registry_url))
    assert (status.current, status.recorded, status.state) == (head_revision(), False, "current")
    open_engine(registry_url).dispose()  # opens as it is
    done = upgrade_registry(connect(registry_url))
    assert (done.applied, done.recorded) == ((), True)
    assert schema_status(connect(registry_url)).recorded
    assert upgrade_registry(connect(registry_url)).recorded is False


@pytest.mark.parametrize("recorded", [False, True])
def test_a_registry_of_a_later_revision_is_upgraded_from_there(registry_url: str, recorded: bool) -> None:
    """A registry at 0003 (recorded, or recognised from its shape as sparkfs before revisions
    left it: no version table) gets 0004 and 0005 only."""
    engine = connect(registry_url)
    with engine.begin() as conn:
        migration._migrate(conn, migration._scripts(), {}, destination="0003_written_outputs")
        if not recorded:
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    status = schema_status(engine)
    assert (status.current, status.recorded, status.pending) == ("0003_written_outputs", recorded, ("0004_hash_chains", "0005_lineage"))
    assert upgrade_registry(engine).applied == ("0004_hash_chains", "0005_lineage")
    assert schema_drift(engine) == []
    engine.dispose()


@pytest.mark.slow
def test_a_registry_newer_than_this_sparkfs_is_refused(registry_url: str, project: Project) -> None:
    open_engine(registry_url).dispose()
    with connect(registry_url).begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099_from_the_future'"))
    message = (r"has schema revision 0099_from_the_future, newer than this sparkfs knows \(its newest "
               r"is 0005_lineage\): a newer sparkfs upgraded it; install that sparkfs version")
    with pytest.raises(RegistryError, match=message):
        open_engine(registry_url)
    for command in (("apply",), ("registry", "upgrade")):
        refused = project.run(*command)
        assert refused.returncode == 1 and "newer than this sparkfs knows" in refused.stderr, refused.stderr
    status = project.run("registry", "status", "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["state"] == "ahead"
    with connect(registry_url).connect() as conn:  # refused, and left as it was
        assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one() == "0099_from_the_future"


def test_a_database_with_only_some_registry_tables_is_refused(registry_url: str) -> None:
    with connect(registry_url).begin() as conn:
        conn.execute(text("CREATE TABLE audit_log (id INTEGER PRIMARY KEY)"))
    with pytest.raises(RegistryError, match="holds some registry tables but not backfill_chunks, "):
        open_engine(registry_url)


@pytest.mark.slow
def test_two_upgrades_at_once_apply_it_once(tmp_path: Path, registry_url: str, project: Project) -> None:
    registry_of_the_first_schema(tmp_path, registry_url)
    runs = [start_cli(project, "registry", "upgrade") for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted("nothing to do" in out for out, _ in outputs) == [False, True], outputs
    engine = open_engine(registry_url)
    assert [e.action for e in AuditLog(engine).entries()].count("registry.upgrade") == 1
    engine.dispose()


def start_cli(project: Project, *args: str) -> subprocess.Popen[str]:
    """Start the CLI in the background (``Project.run`` waits for it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SPARKFS_USER": "tester"}
    return subprocess.Popen([sys.executable, "-m", "sparkfs.cli", "--config", str(project.config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=project.root)


def test_revisions_are_read_when_sparkfs_runs_from_a_zip(tmp_path: Path) -> None:
    """spark-submit.sh ships the package as a zip (--py-files); Alembic reads revisions from
    files, so they are copied out of the zip, and opening a registry works there too."""
    import subprocess
    import sys
    import zipfile

    package = Path(__file__).resolve().parents[2] / "sparkfs"
    archive = tmp_path / "sparkfs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in package.rglob("*"):
            if file.is_file() and "__pycache__" not in file.parts:
                zf.write(file, file.relative_to(package.parent))
    code = ("import sparkfs.registry.migration as m, sparkfs.registry.database as d; "
            "print(m.__file__); print(m.head_revision()); "
            f"d.open_engine('sqlite:///{tmp_path}/r.db').dispose(); print('opened')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(archive), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    where, head, opened = done.stdout.split()
    assert ".zip" in where and head == head_revision() and opened == "opened"
