"""Delta's jars: resolved once by `python -m sparkfs.jars warm`, then named directly by every
session sparkfs builds (no Ivy at start-up), with Ivy as the fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs import jars
from sparkfs.config import SparkConfig, SparkfsConfig
from sparkfs.session import configure_builder

REPO = Path(__file__).resolve().parent.parent


def _fake_jars(tmp_path: Path) -> list[str]:
    """Two jar files named like Ivy's retrieved ones, as file: URIs."""
    group, artifact, version = jars.delta_coordinate().split(":")
    files = [tmp_path / f"{group}_{artifact}-{version}.jar", tmp_path / "io.delta_delta-storage.jar"]
    for f in files:
        f.write_bytes(b"PK")
    return [f.as_uri() for f in files]


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SPARKFS_CACHE_DIR", str(cache))
    monkeypatch.delenv("SPARKFS_SUBMITTED", raising=False)
    return cache


def _options(config: SparkfsConfig) -> dict[str, str]:
    return dict(configure_builder(SparkSession.Builder(), config)._options)


def test_recorded_jars_replace_ivy_and_keep_the_users_own(tmp_path: Path, cache_dir: Path) -> None:
    recorded = _fake_jars(tmp_path)
    assert jars.record_resolved_jars(",".join(recorded)) == recorded
    assert jars.resolved_jars() == recorded and jars.jar_list_path().parent == cache_dir
    options = _options(SparkfsConfig(project="p", spark=SparkConfig(conf={
        "spark.jars": "/opt/mine.jar", "spark.jars.packages": "org.example:extra:1.0"})))
    assert options["spark.jars"].split(",") == ["/opt/mine.jar", *recorded]
    assert options["spark.jars.packages"] == "org.example:extra:1.0"  # left to Ivy: only theirs
    assert "spark.jars.packages" not in _options(SparkfsConfig(project="p"))


def test_without_a_record_ivy_resolves_delta_and_the_users_packages(
        tmp_path: Path, cache_dir: Path) -> None:
    assert jars.resolved_jars() is None
    options = _options(SparkfsConfig(project="p", spark=SparkConfig(conf={
        "spark.jars.packages": "org.example:extra:1.0, org.example:more:2.0"})))
    assert options["spark.jars.packages"].split(",") == [
        jars.delta_coordinate(), "org.example:extra:1.0", "org.example:more:2.0"]
    assert "spark.jars" not in options
    # a record whose files are gone (Ivy cache cleared) is ignored: back to Ivy
    recorded = _fake_jars(tmp_path)
    jars.record_resolved_jars(",".join(recorded))
    Path(recorded[1].removeprefix("file://")).unlink()
    assert jars.resolved_jars() is None
    assert _options(SparkfsConfig(project="p"))["spark.jars.packages"] == jars.delta_coordinate()


def test_a_list_without_delta_or_with_missing_files_is_not_recorded(
        tmp_path: Path, cache_dir: Path) -> None:
    recorded = _fake_jars(tmp_path)
    for bad in ("", recorded[1], f"{recorded[0]},{tmp_path.as_uri()}/gone.jar",
                f"{recorded[0]},hdfs://nn/x.jar"):
        with pytest.raises(ValueError, match="not a resolved Delta jar list"):
            jars.record_resolved_jars(bad)
    assert not jars.jar_list_path().exists()


@pytest.mark.slow
def test_a_session_from_the_recorded_jars_reads_and_writes_delta(tmp_path: Path) -> None:
    """A real session in a fresh JVM built by build_session from this machine's record
    (scripts/setup.sh makes it): Delta works without spark.jars.packages."""
    assert jars.resolved_jars() is not None, "run `python -m sparkfs.jars warm` (scripts/setup.sh does)"
    code = (
        "import json, sys\n"
        "from sparkfs.config import SparkConfig, SparkfsConfig\n"
        "from sparkfs.session import build_session\n"
        "spark = build_session(SparkfsConfig(project='p', spark=SparkConfig(master='local[1]',"
        " conf={'spark.ui.enabled': 'false'})))\n"
        "conf = spark.sparkContext.getConf()\n"
        "spark.range(3).write.format('delta').save(sys.argv[1])\n"
        "rows = spark.read.format('delta').load(sys.argv[1]).count()\n"
        "print(json.dumps({'packages': conf.get('spark.jars.packages', None), 'rows': rows}))\n"
        "spark.stop()\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SPARKFS_SUBMITTED", "SPARKFS_CACHE_DIR")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "t")], capture_output=True,
                            text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"packages": None, "rows": 3}
    assert ":: resolving dependencies" not in result.stderr  # Ivy never ran
