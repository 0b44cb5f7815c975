"""`sparkfs schedule airflow|cron`: files it refuses to overwrite, bad input named with the fix,
and the crontab's lines run as cron would run them (with a stand-in spark-submit.sh)."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.project import Project, make_project


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "project")


def test_airflow_refuses_to_overwrite_files_it_did_not_write(project: Project, tmp_path: Path) -> None:
    dags, code = tmp_path / "dags", str(tmp_path / "code.zip")
    dags.mkdir()
    (dags / "sparkfs_user_profile.py").write_text("# my own DAG\nimport airflow\n")
    refused = project.run("schedule", "airflow", "--out", str(dags), "--code-zip", code)
    assert refused.returncode == 1
    assert "sparkfs_user_profile.py (starts with '# my own DAG')" in refused.stderr
    assert "--overwrite" in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(p.name for p in dags.iterdir()) == ["sparkfs_user_profile.py"]  # nothing written
    forced = project.run("schedule", "airflow", "--out", str(dags), "--code-zip", code, "--overwrite")
    assert forced.returncode == 0, forced.stderr
    assert sorted(p.name for p in dags.iterdir()) == [
        "sparkfs_merchant_txn_aggs.py", "sparkfs_user_profile.py", "sparkfs_user_txn_aggs.py"]
    again = project.run("schedule", "airflow", "--out", str(dags), "--code-zip", code, "--start-date", "2025-02-03")
    assert again.returncode == 0, again.stderr  # its own files are regenerated without --overwrite
    assert "datetime(2025, 2, 3, tzinfo=timezone.utc)" in (dags / "sparkfs_user_profile.py").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["airflow", "no_such_view"], "no_such_view"),
    (["airflow", "--start-date", "2024-13-01"], "--start-date '2024-13-01' is not a date; write YYYY-MM-DD"),
    (["cron", "--repo", "/"], "is not a sparkfs checkout"),
])
def test_bad_input_is_named_with_what_to_do(project: Project, tmp_path: Path, args: list[str],
                                            message: str) -> None:
    result = project.run("schedule", *args, *(["--out", str(tmp_path / "d")] if args[0] == "airflow" else []))
    assert result.returncode == 1, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr


def test_an_offline_only_view_is_refused(project: Project) -> None:
    (project.features / "offline.yaml").write_text("""feature_views:
  - name: user_offline
    entities: [user]
    source: {type: delta, path: demo/users}
    timestamp_column: updated_at
    features: [{name: age, type: int32}]
    owner: risk-team@example.com
    online: false
""")
    result = project.run("schedule", "cron", "user_offline")
    assert result.returncode == 1 and "offline-only (online: false)" in result.stderr
    every = project.run("schedule", "cron")
    assert every.returncode == 0 and "user_offline" not in every.stdout


def _fake_repo(root: Path, fail_job: str | None = None) -> Path:
    """A checkout whose spark-submit.sh records its arguments (and fails for ``fail_job``)."""
    (root / "jobs").mkdir(parents=True)
    for job in ("materialize", "validate", "sync_online"):
        (root / "jobs" / f"{job}.py").write_text("")
    script = root / "spark-submit.sh"
    fail = f'case "$3" in {fail_job}) exit 1 ;; esac\n' if fail_job else ""
    script.write_text(f'#!/bin/sh\necho "$*" >> "$(dirname "$0")/calls.txt"\n{fail}')
    script.chmod(0o755)
    return root


def _run_as_cron(line: str) -> int:
    """A crontab line's command as cron runs it (/bin/sh -c, `\\%` meaning `%`): its exit code."""
    command = line.split(" ", 5)[5].replace("\\%", "%")
    return subprocess.run(["/bin/sh", "-c", command], timeout=60, env={"PATH": "/usr/bin:/bin"}).returncode


def _lines(project: Project, repo: Path, logs: Path, *args: str) -> list[str]:
    result = project.run("schedule", "cron", *args, "--repo", str(repo), "--log-dir", str(logs))
    assert result.returncode == 0, result.stderr
    assert "CRON_TZ=UTC" in result.stdout.splitlines()
    return [x for x in result.stdout.splitlines() if x and not x.startswith("#") and "=" not in x.split(" ")[0]]


def test_the_crontab_runs_materialize_validate_sync_over_yesterday(project: Project, tmp_path: Path) -> None:
    repo, logs = _fake_repo(tmp_path / "repo"), tmp_path / "logs"
    lines = _lines(project, repo, logs)
    assert [x.split(" ", 5)[:5] for x in lines] == [["0", "0", "*", "*", "*"]] * 3
    assert _run_as_cron(next(x for x in lines if "--view user_profile" in x)) == 0
    today = datetime.now(UTC).date()
    config = project.config.resolve()
    window = f"--start {today - timedelta(days=1)} --end {today}"
    assert (repo / "calls.txt").read_text().splitlines() == [
        f"--config {config} materialize --view user_profile {window}",
        f"--config {config} validate --view user_profile {window}",
        f"--config {config} sync_online --view user_profile",
    ]
    assert (logs / "user_profile.log").exists()


def test_a_failed_step_stops_the_line_and_a_running_one_is_not_started_twice(project: Project,
                                                                              tmp_path: Path) -> None:
    repo, logs = _fake_repo(tmp_path / "repo", fail_job="validate"), tmp_path / "logs"
    line = next(x for x in _lines(project, repo, logs, "user_txn_aggs", "--schedule", "@monthly")
                if "user_txn_aggs" in x)
    assert line.startswith("0 0 1 * * ")
    assert _run_as_cron(line) == 1  # cron mails or logs the failure
    calls = (repo / "calls.txt").read_text().splitlines()
    assert [c.split()[2] for c in calls] == ["materialize", "validate"]  # no sync after a failed gate
    first = datetime.now(UTC).date().replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    assert calls[0].endswith(f"--start {previous} --end {first}")
    holder = subprocess.Popen(["flock", str(logs / "user_txn_aggs.lock"), "sleep", "30"])
    try:
        for _ in range(100):  # until the holder has the lock
            if subprocess.run(["flock", "-n", str(logs / "user_txn_aggs.lock"), "true"]).returncode:
                break
            time.sleep(0.05)
        assert _run_as_cron(line) == 0
    finally:
        holder.kill()
        holder.wait()
    assert len((repo / "calls.txt").read_text().splitlines()) == 2  # skipped while the lock was held
