"""spark-submit.sh and the jobs bootstrap; the slow test runs the demo job on a local cluster."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from jobs import _bootstrap
from sparkfs.demo.generate import TABLES, generate_demo_data
from sparkfs.errors import ValidationError
from sparkfs.jars import delta_coordinate

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "spark-submit.sh"


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "sparkfs.yaml"
    path.write_text(
        f"project: test\ndata_dir: {tmp_path / 'data'}\noffline:\n  root: {tmp_path / 'offline'}\n"
        + extra
    )
    return path


# Few partitions, as in every test session: Delta's default 50 snapshot partitions cost ~60 s of
# tiny tasks on two 1-core executors.
_SMALL_CONF = (
    "--conf", "spark.sql.shuffle.partitions=4",
    "--conf", "spark.databricks.delta.snapshotPartitions=2",
    "--conf", "spark.ui.enabled=false",
)  # fmt: skip


def _run(
    *args: str, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARKFS_CONFIG", "SPARKFS_SUBMITTED")}
    env["PYTHON"] = sys.executable
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO,
        env=env,
        check=False,
    )


def test_help_prints_usage() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: ./spark-submit.sh [--master M] [--config PATH]")


def test_unknown_job_lists_the_available_ones(tmp_path: Path) -> None:
    result = _run("--config", str(_config(tmp_path)), "no_such_job")
    assert result.returncode == 2
    assert "no job 'no_such_job'" in result.stderr and "generate_demo" in result.stderr


def test_missing_and_invalid_config_fail_before_spark_starts(tmp_path: Path) -> None:
    missing = _run("--config", str(tmp_path / "nope.yaml"), "generate_demo", cwd=tmp_path)
    assert missing.returncode == 2 and "config file not found" in missing.stderr
    bad = _run("--config", str(_config(tmp_path, "colour: blue\n")), "generate_demo")
    assert bad.returncode == 1
    assert "sparkfs.yaml: colour: unknown field" in bad.stderr


def test_job_help_needs_no_config(tmp_path: Path) -> None:
    result = _run("generate_demo", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "--rows ROWS" in result.stdout


def test_dry_run_composes_the_spark_submit_command(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "spark:\n  master: local[3]\n")
    result = _run(
        "--dry-run", "--config", str(cfg), "--conf", "spark.x=1", "--packages", "a:b:1",
        "--verbose", "jobs/generate_demo.py", "--rows", "5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    argv = shlex.split(result.stdout)
    assert argv[0].endswith("/bin/spark-submit")
    assert _opt(argv, "--master") == "local[3]", "the config's master is the default"
    assert _opt(argv, "--packages") == f"{delta_coordinate()},a:b:1"
    assert _opt(argv, "--py-files").endswith("/sparkfs.zip")
    assert _opt(argv, "--files") == str(cfg)
    confs = [argv[i + 1] for i, a in enumerate(argv) if a == "--conf"]
    assert confs[:3] == [
        "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone=UTC",
    ]
    assert confs[-1] == "spark.x=1", "the user's --conf comes last, so it wins"
    assert "--verbose" in argv
    job = str(REPO / "jobs" / "generate_demo.py")
    assert argv[-5:] == [job, "--config", str(cfg), "--rows", "5"]
    yarn = shlex.split(
        _run("--dry-run", "--master", "yarn", "--config", str(cfg), "generate_demo").stdout
    )
    assert _opt(yarn, "--master") == "yarn"
    assert "spark.yarn.appMasterEnv.SPARKFS_SUBMITTED=1" in yarn


def _opt(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


class _FakeSession:
    stopped = False

    def stop(self) -> None:
        self.stopped = True


def _no_spark(monkeypatch: pytest.MonkeyPatch) -> _FakeSession:
    session = _FakeSession()
    monkeypatch.setattr(_bootstrap, "build_session", lambda config: session)
    return session


def test_run_job_exits_with_mains_code_and_stops_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _no_spark(monkeypatch)
    seen: dict[str, Any] = {}

    def main(spark: Any, config: Any, args: Any) -> int:
        seen.update(project=config.project, rows=args.rows)
        return 3

    def add_args(parser: Any) -> None:
        parser.add_argument("--rows", type=int)

    with pytest.raises(SystemExit) as exit_info:
        _bootstrap.run_job(main, add_args, argv=["--config", str(_config(tmp_path)), "--rows", "7"])
    assert exit_info.value.code == 3 and session.stopped
    assert seen == {"project": "test", "rows": 7}


def test_run_job_turns_sparkfs_errors_into_one_paragraph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _no_spark(monkeypatch)

    def main(spark: Any, config: Any, args: Any) -> int:
        raise ValidationError("rows=0: too few\nuse --rows 100 or more")

    with pytest.raises(SystemExit) as exit_info:
        _bootstrap.run_job(main, argv=["--config", str(_config(tmp_path))])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and session.stopped
    assert err.count("\n") == 1 and "ValidationError: rows=0: too few use --rows 100" in err

    with pytest.raises(SystemExit) as exit_info:
        _bootstrap.run_job(main, argv=["--config", str(tmp_path / "missing.yaml")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "ConfigError" in err and "missing.yaml" in err


def test_config_shipped_with_files_is_found_by_base_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sparkfs.yaml").write_text("project: test\n")
    assert _bootstrap.resolve_config_path("/elsewhere/sparkfs.yaml") == Path("sparkfs.yaml")
    assert _bootstrap.resolve_config_path("/elsewhere/other.yaml") == Path("/elsewhere/other.yaml")


@pytest.mark.slow
@pytest.mark.cluster
def test_local_cluster_run_matches_local_generation(spark: SparkSession, tmp_path: Path) -> None:
    rows, out = 20_000, tmp_path / "cluster"
    started = time.monotonic()
    result = _run(
        "--master", "local-cluster[2,1,1024]", "--config", str(_config(tmp_path)),
        *_SMALL_CONF,
        "generate_demo", "--rows", str(rows), "--out", str(out), "--partitions", "4",
        timeout=1200,
    )  # fmt: skip
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"local-cluster spark-submit run: {seconds:.1f}s, job {report['seconds']}s")
    # Two executor JVMs, both of which ran tasks: the work really was distributed.
    assert report["master"] == "local-cluster[2,1,1024]"
    assert len(report["executors"]) == 2 and min(report["executors"].values()) > 0, report

    local = generate_demo_data(spark, str(tmp_path / "local"), rows=rows)
    assert report["transactions_rows"] == local.transactions_rows
    for table in TABLES:
        a = spark.read.format("delta").load(f"{out}/{table}")
        b = spark.read.format("delta").load(f"{local.out_dir}/{table}")
        assert a.exceptAll(b).unionByName(b.exceptAll(a)).count() == 0, table


def _project_config(root: Path) -> Path:
    """A project with absolute paths only (the config travels to the cluster with --files)."""
    import shutil

    shutil.copytree(REPO / "conf" / "features", root / "features")
    return _config(root, extra=f'registry: {{url: "sqlite:///{root / "registry.db"}"}}\n')


@pytest.mark.slow
@pytest.mark.cluster
def test_materialize_on_local_cluster_matches_local_mode(spark: SparkSession, tmp_path: Path) -> None:
    """jobs/materialize.py through spark-submit.sh on two executor JVMs writes the same rows as
    the library in local mode, from the same demo data (an aggregation view: a shuffle-heavy job)."""
    from sparkfs.pipeline.materialize import materialize, offline_table
    from sparkfs.pipeline.workspace import Workspace

    view = "user_txn_aggs"
    tables = {}
    for mode in ("cluster", "local"):
        root = tmp_path / mode
        root.mkdir()
        config = _project_config(root)
        generate_demo_data(spark, str(root / "data" / "demo"), rows=4000)  # same seed: same rows
        ws = Workspace.open(str(config), user="tester")
        ws.definitions.apply(ws.repository, user="tester")
        if mode == "cluster":
            result = _run(
                "--master", "local-cluster[2,1,1024]", "--config", str(config),
                *_SMALL_CONF,
                "materialize", "--view", view, "--user", "tester", timeout=1200,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr[-4000:]
            report = json.loads(result.stdout.strip().splitlines()[-1])
            assert report["master"] == "local-cluster[2,1,1024]" and report["rows_written"] > 0
            executors = {k: v for k, v in report["executor_tasks"].items() if k != "driver"}
            assert len(executors) == 2 and min(executors.values()) > 0, report
        else:
            materialize(spark, ws, view)
        table = offline_table(ws, ws.repository.feature_view(view))
        tables[mode] = table.read(spark).drop("_ingested_at")
    # Sums of doubles depend on the order partitions are combined in (last bits): compare
    # floating columns to 9 decimal places, everything else exactly, row counts exactly.
    from pyspark.sql import functions as F

    def rounded(df: Any) -> Any:
        return df.select(*[
            F.expr(f"format_number({f.name}, 9)").alias(f.name) if f.dataType.typeName() == "double" else F.col(f.name)
            for f in df.schema.fields
        ])

    a, b = rounded(tables["cluster"]), rounded(tables["local"])
    assert a.count() == b.count() > 0
    assert a.exceptAll(b).unionByName(b.exceptAll(a)).count() == 0
