from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import delete, update

from sparkfs.definitions.loader import load_repository
from sparkfs.errors import NotFoundError
from sparkfs.registry import AuditLog, DefinitionStore, open_engine
from sparkfs.registry.schema import audit_log, definition_versions

EXAMPLE = Path(__file__).resolve().parents[2] / "conf" / "features"


@pytest.fixture()
def features(tmp_path: Path) -> Path:
    root = tmp_path / "features"
    shutil.copytree(EXAMPLE, root)
    return root


@pytest.fixture()
def store(registry_url: str) -> DefinitionStore:
    """A definition store on each backend (SQLite, PostgreSQL: ``registry_backend``)."""
    return DefinitionStore(open_engine(registry_url))


def set_age_type(features: Path, new_type: str) -> None:
    path = features / "users.yaml"
    data = yaml.safe_load(path.read_text())
    data["feature_views"][0]["features"][0]["type"] = new_type
    path.write_text(yaml.safe_dump(data))


def test_apply_is_idempotent(store: DefinitionStore, features: Path) -> None:
    repo = load_repository(features)
    first = store.apply(repo, user="alice")
    assert {c.action for c in first.changes} == {"add"}
    assert len(first.changes) == 6
    assert store.apply(repo, user="alice").empty
    assert store.plan(repo).empty


def test_plan_shows_field_level_diff_and_history_keeps_old_versions(store: DefinitionStore, features: Path) -> None:
    store.apply(load_repository(features), user="alice")
    set_age_type(features, "int64")
    repo = load_repository(features)
    [change] = store.plan(repo).changes
    assert (change.kind, change.name, change.action) == ("feature_view", "user_profile", "change")
    assert ("features[0].type", "int32", "int64") in change.fields
    store.apply(repo, user="bob")
    history = store.history("feature_view", "user_profile")
    assert [h.created_by for h in history] == ["alice", "bob"]
    assert [h.current for h in history] == [False, True]
    assert history[0].spec["features"][0]["type"] == "int32"


def test_removed_definitions_are_marked_not_deleted(store: DefinitionStore, features: Path) -> None:
    store.apply(load_repository(features), user="alice")
    (features / "merchants.yaml").unlink()
    services = features / "services.yaml"
    services.write_text(services.read_text().replace("      - merchant_txn_aggs:*\n", ""))
    plan = store.apply(load_repository(features), user="alice")
    assert ("feature_view", "merchant_txn_aggs", "remove") in [(c.kind, c.name, c.action) for c in plan.changes]
    assert ("feature_view", "merchant_txn_aggs") not in store.heads()
    assert len(store.history("feature_view", "merchant_txn_aggs")) == 1


def test_audit_log_records_applies_and_rejects_tampering(store: DefinitionStore, features: Path, tmp_path: Path) -> None:
    store.apply(load_repository(features), user="alice")
    engine = store._engine
    entries = AuditLog(engine).entries()
    assert len(entries) == 6 and all(e.action == "apply.add" and e.user == "alice" for e in entries)
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(update(audit_log).values(user="mallory"))
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(update(definition_versions).values(created_by="mallory"))
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(delete(definition_versions))
    assert len(AuditLog(engine).entries()) == 6


def test_unknown_version_is_not_found(store: DefinitionStore) -> None:
    with pytest.raises(NotFoundError, match="no feature_view 'x' at version v1"):
        store.spec("feature_view", "x", "v1")


def _apply_in_process(db: str, features: str, user: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    store = DefinitionStore(open_engine(db))
    repo = load_repository(features)
    barrier.wait(120)  # a sibling that failed to open breaks the barrier instead of hanging
    store.apply(repo, user=user)


def test_concurrent_apply_from_two_processes(tmp_path: Path, features: Path, registry_url: str) -> None:
    """Two processes open a new registry and apply at once, three times: on PostgreSQL too, the
    first open of both creates the schema once (under an advisory lock)."""
    db = registry_url
    other = tmp_path / "other"
    shutil.copytree(features, other)
    set_age_type(other, "int64")
    ctx = multiprocessing.get_context("spawn")
    for _ in range(3):
        barrier = ctx.Barrier(2)
        procs = [
            ctx.Process(target=_apply_in_process, args=(db, str(features), "a", barrier)),
            ctx.Process(target=_apply_in_process, args=(db, str(other), "b", barrier)),
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(180)
        assert [p.exitcode for p in procs] == [0, 0], "an apply process failed (stderr above)"
    store = DefinitionStore(open_engine(db))
    history = store.history("feature_view", "user_profile")
    versions = [h.version for h in history]
    # both versions recorded exactly once, none lost, none duplicated
    assert len(versions) == 2 and len(set(versions)) == 2
    assert sum(h.current for h in history) == 1
    assert len(store.history("entity", "user")) == 1
