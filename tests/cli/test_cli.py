from __future__ import annotations

from pathlib import Path

import pytest

from tests.project import Project, make_project

SUBCOMMANDS = ["plan", "apply", "list", "describe", "runs"]


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path)


def test_help_on_every_subcommand(project: Project) -> None:
    top = project.run("--help")
    assert top.returncode == 0 and "feature store" in top.stdout
    for name in SUBCOMMANDS:
        result = project.run(name, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage: sparkfs" in result.stdout and name in result.stdout


def test_plan_apply_list_describe_flow(project: Project) -> None:
    plan = project.run("plan")
    assert plan.returncode == 0, plan.stderr
    assert "Plan: 6 to add, 0 to change, 0 to remove." in plan.stdout
    applied = project.run("apply")
    assert applied.returncode == 0 and "Applied 6 change(s) as tester." in applied.stdout
    again = project.run("apply")
    assert again.returncode == 0 and "No changes" in again.stdout
    listed = project.run("list", "--kind", "feature_view")
    assert listed.returncode == 0
    assert {"user_profile", "user_txn_aggs", "merchant_txn_aggs"} <= set(listed.stdout.split())
    described = project.run("describe", "user_profile")
    assert described.returncode == 0 and '"timestamp_column": "updated_at"' in described.stdout
    assert "history:" in described.stdout and "tester" in described.stdout


def test_user_error_exits_1_with_one_message_and_no_traceback(project: Project) -> None:
    (project.features / "broken.yaml").write_text("feature_views:\n  - name: x\n")
    result = project.run("plan")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "broken.yaml" in result.stderr and "Traceback" not in result.stderr
    debug = project.run("--debug", "plan")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_missing_config_is_a_user_error(project: Project, tmp_path: Path) -> None:
    result = project.run("--config", str(tmp_path / "missing.yaml"), "list")
    assert result.returncode == 1 and "config file not found" in result.stderr


def test_usage_errors_exit_2(project: Project) -> None:
    assert project.run("no-such-command").returncode == 2
    assert project.run("list", "--kind", "bogus").returncode == 2
    assert project.run("describe").returncode == 2


def test_describe_unknown_name_exits_1(project: Project) -> None:
    result = project.run("describe", "ghost")
    assert result.returncode == 1 and "no definition named 'ghost'" in result.stderr


def test_bad_arguments_are_refused_before_spark_starts(project: Project) -> None:
    cases = [
        (["materialize", "ghost"], "unknown feature view 'ghost'"),
        (["materialize", "user_profile", "--start", "2026-13-01"], "--start '2026-13-01' is not a date"),
        (["materialize", "user_profile", "--start", "2026-02-01", "--end", "2026-01-01"],
         "is not before --end"),
        (["backfill", "user_profile", "--start", "2026-01-01", "--end", "2026-02-01", "--step", "0d"],
         "--step '0d' is not a positive whole number of days"),
        (["backfill", "ghost", "--start", "2026-01-01", "--end", "2026-02-01"], "unknown feature view"),
        (["materialize", "user_profile", "ghost"], "unknown feature view 'ghost'"),
        (["materialize", "--all", "user_profile"], "not both"),
        (["materialize"], "name a feature view (or several), or give --all"),
        # nothing is applied yet: governance is checked before the session starts, for every view
        (["materialize", "--all"], "is not applied"),
        (["materialize", "user_profile"], "is not applied"),
        (["backfill", "--all", "--start", "2026-01-01", "--end", "2026-02-01"], "is not applied"),
    ]
    for args, message in cases:
        result = project.run(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        # the JVM announces itself on start; none was started
        assert "jdk.incubator" not in result.stderr and "log4j" not in result.stderr, args


def test_non_utf8_files_are_named_with_the_fix(project: Project) -> None:
    (project.features / "latin1.yaml").write_bytes("feature_views: []\n# caf\xe9\n".encode("latin-1"))
    result = project.run("plan")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "latin1.yaml" in result.stderr and "not UTF-8" in result.stderr
    (project.features / "latin1.yaml").unlink()
    project.config.write_bytes(project.config.read_bytes() + b"# \xff\n")
    result = project.run("list")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "sparkfs.yaml" in result.stderr and "save the file as UTF-8" in result.stderr


@pytest.mark.slow
def test_materialize_all_runs_every_view_and_reports_each(project: Project) -> None:
    assert project.run("apply").returncode == 0
    generated = project.run("demo", "generate", "--rows", "10000")
    assert generated.returncode == 0, generated.stderr[-3000:]
    result = project.run("materialize", "--all", "--concurrency", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    for view in ("merchant_txn_aggs", "user_profile", "user_txn_aggs"):
        assert any(line.startswith(f"{view}: run ") and " succeeded: " in line for line in lines), result.stdout
    assert "3 at a time" in result.stderr
    runs = project.run("runs")
    assert runs.returncode == 0 and runs.stdout.count("succeeded") >= 3
