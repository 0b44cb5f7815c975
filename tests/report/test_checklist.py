"""Each checklist item passes and fails on purpose-built repositories (real registry, real
stores; the reproducibility check on real Delta tables, vacuumed by Spark)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry.training_sets import TrainingSetStore
from sparkfs.report.build import GovernanceReport, build_report
from sparkfs.report.checklist import Check
from tests.catalog_project import (
    approve,
    open_catalog_project,
    record_gate,
    record_run,
    record_sync,
    version_of,
)
from tests.registry.tampering import drop_triggers, raw

ENTITY = """
entities:
  - {name: user, join_keys: [{name: user_id, type: int64}]}
"""


def view_yaml(name: str = "good", *, owner: str = "team@example.com",
              description: str = "what it is", tags: str = '{pii: "false"}', ttl: str = "1d",
              features: str = "[{name: score, type: float64}]",
              expectations: str = "[{type: not_null, column: user_id}]",
              online: str = "true") -> str:
    return f"""
  - name: {name}
    entities: [user]
    source: {{type: delta, path: x/{name}}}
    timestamp_column: ts
    features: {features}
    {"ttl: " + ttl if ttl else ""}
    owner: "{owner}"
    description: "{description}"
    tags: {tags}
    online: {online}
    expectations: {expectations}
"""


def project(tmp_path: Path, *views: str, services: str = "") -> Workspace:
    return open_catalog_project(tmp_path, ENTITY + "feature_views:" + "".join(views) + services)


def check(report: GovernanceReport, name: str, item: str) -> Check:
    for subject in report.subjects:
        if subject.name == name:
            for c in subject.checks:
                if c.item == item:
                    return c
    raise AssertionError(f"no check {item!r} of {name!r}")


def healthy(ws: Workspace, name: str = "good") -> None:
    """Approved by alice, materialized with a passing gate, synced at its head."""
    approve(ws, name)
    run = record_run(ws, name, output_version=1)
    record_gate(ws, name, run, [("not_null(user_id)", "error", True)])
    record_sync(ws, name, delta_version=1)


def later(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_a_healthy_view_passes_every_item(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml())
    healthy(ws)
    report = build_report(ws)
    subject = next(s for s in report.subjects if s.name == "good")
    assert [(c.item, c.level) for c in subject.checks] == [
        ("owner and description", "pass"), ("PII tagged", "pass"),
        ("approved by someone else", "pass"), ("quality gates", "pass"), ("ttl set", "pass"),
        ("offline freshness", "pass"), ("online freshness", "pass"),
        ("nothing unapproved served", "pass")], subject.checks
    assert report.level == "pass"
    assert "approved by alice" in check(report, "good", "approved by someone else").reason


def test_owner_and_description(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml("a", owner=""), view_yaml("b", description=""))
    report = build_report(ws)
    assert check(report, "a", "owner and description").level == "fail"
    assert "no owner" in check(report, "a", "owner and description").reason
    assert check(report, "b", "owner and description").level == "warn"


def test_pii_tagging(tmp_path: Path) -> None:
    ws = project(
        tmp_path,
        view_yaml("tagged", tags='{pii: "true"}'),
        view_yaml("undeclared", tags="{}"),
        view_yaml("contradicts", tags='{pii: "false"}',
                  features='[{name: age, type: int32, tags: {pii: "true"}}]'),
        view_yaml("looks_personal", tags="{}",
                  features='[{name: email, type: string}, {name: n, type: int64, tags: {pii: "false"}}]'))
    report = build_report(ws)
    assert check(report, "tagged", "PII tagged").level == "pass"
    assert check(report, "undeclared", "PII tagged").level == "warn"
    bad = check(report, "contradicts", "PII tagged")
    assert bad.level == "fail" and "age" in bad.reason
    personal = check(report, "looks_personal", "PII tagged")
    assert personal.level == "warn" and "email" in personal.reason


def test_approved_by_someone_other_than_the_author(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml("draft"), view_yaml("in_review"), view_yaml("approved"))
    from sparkfs.governance.lifecycle import ReviewBoard

    ReviewBoard(ws.engine, ws.config.governance).request("author", "in_review")
    approve(ws, "approved", approver="bob")
    report = build_report(ws)
    assert check(report, "draft", "approved by someone else").level == "fail"
    assert "in_review" in check(report, "in_review", "approved by someone else").reason
    assert check(report, "in_review", "approved by someone else").level == "fail"
    ok = check(report, "approved", "approved by someone else")
    assert ok.level == "pass" and "bob" in ok.reason


def test_governance_off_means_nothing_was_approved(tmp_path: Path) -> None:
    ws = open_catalog_project(tmp_path, ENTITY + "feature_views:" + view_yaml(),
                              governance="{enabled: false}")
    item = check(build_report(ws), "good", "approved by someone else")
    assert item.level == "fail" and "governance.enabled is false" in item.reason


def test_quality_gates_declared_and_passing_on_the_last_run(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml("none", expectations="[]"), view_yaml("never"),
                 view_yaml("failed"), view_yaml("warned"), view_yaml("recovered"))
    for name, results in (
            ("failed", [("not_null(user_id)", "error", False)]),
            ("warned", [("not_null(user_id)", "error", True), ("range(x)", "warn", False)]),
            ("recovered", [("not_null(user_id)", "error", False)])):
        record_gate(ws, name, record_run(ws, name, status="failed"), results)
    record_gate(ws, "recovered", record_run(ws, "recovered"), [("not_null(user_id)", "error", True)])
    report = build_report(ws)
    assert check(report, "none", "quality gates").level == "fail"
    assert "no expectations declared" in check(report, "none", "quality gates").reason
    assert check(report, "never", "quality gates").level == "fail"
    failed = check(report, "failed", "quality gates")
    assert failed.level == "fail" and "not_null(user_id) (3 rows)" in failed.reason
    assert check(report, "warned", "quality gates").level == "warn"
    assert check(report, "recovered", "quality gates").level == "pass"


def test_ttl_set(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml("with_ttl"), view_yaml("forever", ttl=""))
    report = build_report(ws)
    assert check(report, "with_ttl", "ttl set") == Check("ttl set", "pass", "ttl 1d")
    assert check(report, "forever", "ttl set").level == "fail"


def test_offline_freshness_within_the_sla(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml("fresh"), view_yaml("never"))
    record_run(ws, "fresh")
    report = build_report(ws)
    assert check(report, "fresh", "offline freshness").level == "pass"
    assert check(report, "never", "offline freshness").level == "fail"
    stale = check(build_report(ws, clock=lambda: later(2)), "fresh", "offline freshness")
    assert stale.level == "fail" and "over the SLA of 1d" in stale.reason


def test_the_sla_is_configurable_per_view(tmp_path: Path) -> None:
    ws = open_catalog_project(
        tmp_path, ENTITY + "feature_views:" + view_yaml("a") + view_yaml("b"),
        extra="catalog: {offline_max_age: 7d, sla_overrides: {b: {offline_max_age: 1h}}}")
    record_run(ws, "a")
    record_run(ws, "b")
    report = build_report(ws, clock=lambda: later(2))
    assert check(report, "a", "offline freshness").level == "pass"
    assert check(report, "b", "offline freshness").level == "fail"


def test_online_freshness(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml("synced"), view_yaml("never"), view_yaml("old_version"),
                 view_yaml("behind"), view_yaml("offline_only", online="false"))
    for name in ("synced", "never", "old_version", "behind", "offline_only"):
        record_run(ws, name, output_version=3)
    record_sync(ws, "synced", delta_version=3)
    record_sync(ws, "old_version", delta_version=3, definition_version="0" * 16)
    record_sync(ws, "behind", delta_version=1, at=datetime.now(UTC) - timedelta(days=3))
    report = build_report(ws)
    assert check(report, "synced", "online freshness").level == "pass"
    assert check(report, "never", "online freshness").level == "fail"
    old = check(report, "old_version", "online freshness")
    assert old.level == "fail" and "0000000000000000" in old.reason
    assert check(report, "behind", "online freshness").level == "fail"
    assert check(report, "offline_only", "online freshness").level == "pass"
    stale = build_report(ws, clock=lambda: later(2))
    assert check(stale, "synced", "online freshness").level == "fail"


def test_nothing_unapproved_served(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml("approved"), view_yaml("draft"), view_yaml("unsynced"),
                 services="""
feature_services:
  - {name: svc_ok, owner: a, description: d, features: ["approved:*"]}
  - {name: svc_bad, owner: a, description: d, features: ["approved:score", "draft:score"]}
""")
    approve(ws, "approved")
    record_sync(ws, "approved")
    record_sync(ws, "draft")
    approve(ws, "svc_ok", kind="feature_service")
    approve(ws, "svc_bad", kind="feature_service")
    report = build_report(ws)
    assert check(report, "approved", "nothing unapproved served").level == "pass"
    served = check(report, "draft", "nothing unapproved served")
    assert served.level == "fail" and "which is draft" in served.reason
    assert check(report, "unsynced", "nothing unapproved served").level == "pass"
    assert check(report, "svc_ok", "nothing unapproved served").level == "pass"
    assert check(report, "svc_ok", "approved by someone else").level == "pass"
    bad = check(report, "svc_bad", "nothing unapproved served")
    assert bad.level == "fail" and "draft (draft)" in bad.reason


def test_the_audit_log_intact_and_a_tampered_registry_flagged(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml())
    assert check(build_report(ws), "catalogtest", "audit log intact").level == "pass"
    db = Path(ws.config.registry.url[len("sqlite:///"):])
    drop_triggers(db)
    with raw(db) as conn:
        conn.execute("UPDATE audit_log SET user = 'mallory' WHERE id = 1")
    report = build_report(ws)
    item = check(report, "catalogtest", "audit log intact")
    assert item.level == "fail" and "audit_log row 1" in item.reason
    assert report.level == "fail"


def test_a_spec_rewritten_behind_sparkfs_is_refused_not_reported(tmp_path: Path) -> None:
    ws = project(tmp_path, view_yaml())
    db = Path(ws.config.registry.url[len("sqlite:///"):])
    drop_triggers(db)
    with raw(db) as conn:
        conn.execute("UPDATE definition_versions SET spec = json_set(spec, '$.owner', 'mallory') "
                     "WHERE name = 'good'")
    report = build_report(ws)
    assert report.level == "fail" and report.views == ()
    assert "does not hash to its version" in report.refused
    assert [s.kind for s in report.subjects] == ["registry"]


@pytest.fixture()
def delta_table(spark: SparkSession, tmp_path: Path) -> str:
    """A Delta table with version 0 (two rows) replaced by version 1 (one row)."""
    path = str(tmp_path / "offline" / "good" / "t")
    spark.range(2).write.format("delta").save(path)
    spark.range(1).write.format("delta").mode("overwrite").save(path)
    return path


def test_training_sets_reproducible_until_vacuumed(spark: SparkSession, tmp_path: Path,
                                                   delta_table: str) -> None:
    from delta.tables import DeltaTable

    ws = project(tmp_path, view_yaml())
    record_run(ws, "good", table=delta_table, output_version=1)
    spine = tmp_path / "spine.parquet"
    spark.range(1).write.parquet(str(spine))
    store = TrainingSetStore(ws.engine)
    old = store.record(user="author", spine=str(spine), out=str(tmp_path / "ts0"), format="parquet",
                       features=["good:score"], feature_service=None, table_versions={"good": 0},
                       definition_versions={"good": version_of(ws, "good")}, options={})
    new = store.record(user="author", spine=str(spine), out=str(tmp_path / "ts1"), format="parquet",
                       features=["good:score"], feature_service=None, table_versions={"good": 1},
                       definition_versions={"good": version_of(ws, "good")}, options={})
    report = build_report(ws)
    assert check(report, old.id, "reproducible").level == "pass"
    assert f"sparkfs training-set reproduce {old.id}" in check(report, old.id, "reproducible").reason
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        DeltaTable.forPath(spark, delta_table).vacuum(0)
    finally:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    report = build_report(ws)
    gone = check(report, old.id, "reproducible")
    assert gone.level == "fail" and "vacuumed" in gone.reason, gone
    assert check(report, new.id, "reproducible").level == "pass"
    # and the rule agrees with Delta: version 0 really cannot be read any more
    with pytest.raises(Exception, match=r"(?i)not exist|FileNotFound|FILE_NOT_EXIST"):
        spark.read.format("delta").option("versionAsOf", 0).load(delta_table).collect()
    # a spine that is gone also makes it unreproducible
    import shutil

    shutil.rmtree(spine)
    assert "spine" in check(build_report(ws), new.id, "reproducible").reason
