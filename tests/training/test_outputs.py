"""Finding 1 of issue 21: a training set (or a reproduction, or the demo) never destroys what
it did not write. Each case was silently overwritten before (``mode("overwrite")``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkfs.demo.generate import generate_demo_data
from sparkfs.errors import ValidationError
from sparkfs.pipeline.materialize import materialize, offline_table
from sparkfs.pipeline.outputs import protected_locations
from sparkfs.pipeline.training_sets import reproduce_training_set, write_training_set
from sparkfs.pipeline.workspace import Workspace
from tests.offline.conftest import write_users
from tests.project import Project
from tests.training.test_training_set import USERS, spine_df

FEATURES = ["user_profile:age"]


@pytest.fixture()
def built(spark: SparkSession, ws: Workspace, tmp_path: Path) -> tuple[str, str]:
    """A materialized production table and a Delta spine: (spine path, feature table path)."""
    write_users(spark, ws, USERS)
    materialize(spark, ws, "user_profile", start=date(2026, 1, 1), end=date(2026, 1, 10))
    spine = str(tmp_path / "spine")
    spine_df(spark).write.format("delta").save(spine)
    return spine, offline_table(ws, ws.repository.feature_view("user_profile")).path


def build(spark: SparkSession, ws: Workspace, spine: str, out: str | Path, **kw: bool) -> str:
    return write_training_set(spark, ws, spine_path=spine, out=str(out), features=FEATURES, **kw).id


def test_an_unrelated_file_or_folder_is_kept_unless_overwrite(spark: SparkSession, ws: Workspace,
                                                             built: tuple[str, str], tmp_path: Path) -> None:
    spine, _ = built
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(ValidationError, match=r"notes.txt: a file is already there .* --overwrite"):
        build(spark, ws, spine, notes)
    assert notes.read_text() == "mine"
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "model.pkl").write_text("weights")
    with pytest.raises(ValidationError, match=r"a directory with 1 entries \(model.pkl\)"):
        build(spark, ws, spine, folder)
    assert (folder / "model.pkl").read_text() == "weights"
    build(spark, ws, spine, folder, overwrite=True)  # said so explicitly
    assert not (folder / "model.pkl").exists() and spark.read.parquet(str(folder)).count() == 6


def test_its_own_training_set_is_rewritten_without_overwrite(spark: SparkSession, ws: Workspace,
                                                            built: tuple[str, str], tmp_path: Path) -> None:
    spine, _ = built
    first = build(spark, ws, spine, tmp_path / "ts")
    second = build(spark, ws, spine, tmp_path / "ts")
    assert first != second and spark.read.parquet(str(tmp_path / "ts")).count() == 6
    reproduce_training_set(spark, ws, first, str(tmp_path / "again"))
    reproduce_training_set(spark, ws, first, str(tmp_path / "again"))  # its own output too
    (tmp_path / "notes").write_text("x")
    with pytest.raises(ValidationError, match="notes: a file is already there"):
        reproduce_training_set(spark, ws, first, str(tmp_path / "notes"))
    assert (tmp_path / "notes").read_text() == "x"


def test_the_spine_is_never_overwritten(spark: SparkSession, ws: Workspace, built: tuple[str, str],
                                        tmp_path: Path) -> None:
    spine, _ = built
    for overwrite in (False, True):
        with pytest.raises(ValidationError, match="overlaps the spine being read"):
            build(spark, ws, spine, spine, overwrite=overwrite)
    record = build(spark, ws, spine, tmp_path / "ts")
    with pytest.raises(ValidationError, match="overlaps the spine being read"):
        reproduce_training_set(spark, ws, record, spine, overwrite=True)
    # the spine is intact: the record still reproduces (before, its columns were PAR1...)
    reproduce_training_set(spark, ws, record, str(tmp_path / "rebuilt"))
    assert spark.read.parquet(str(tmp_path / "rebuilt")).columns[:2] == ["user_id", "event_timestamp"]


def test_store_locations_and_sources_are_never_overwritten(spark: SparkSession, ws: Workspace,
                                                           built: tuple[str, str]) -> None:
    spine, table = built
    config = ws.config
    source = str(Path(config.data_dir) / "demo" / "users")
    cases = {table: "offline store root", config.offline.root: "offline store root",
             str(Path(config.offline.root).parent): "offline store root",
             config.offline.sandbox_root + "/x": "sandbox root", source: "source of feature view 'user_profile'",
             config.features_dir: "feature repository", config.registry.url[len("sqlite:///"):]: "registry database"}
    for out, what in cases.items():
        with pytest.raises(ValidationError, match=f"overlaps the {what}"):
            build(spark, ws, spine, out, overwrite=True)
    assert (Path(table) / "_delta_log").is_dir()  # history intact
    assert spark.read.format("delta").load(table).count() == 3


def test_demo_generate_refuses_foreign_and_store_paths(spark: SparkSession, ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "keep.csv").write_text("a,b")
    with pytest.raises(ValidationError, match=r"stuff: a directory with 1 entries \(keep.csv\) .* not a demo data set"):
        generate_demo_data(spark, str(folder), rows=100)
    assert (folder / "keep.csv").exists()
    protected = protected_locations(ws.config, sources=False)
    with pytest.raises(ValidationError, match="overlaps the offline store root"):
        generate_demo_data(spark, ws.config.offline.root + "/demo", rows=100, overwrite=True, protected=protected)
    generate_demo_data(spark, str(tmp_path / "demo"), rows=100)
    generate_demo_data(spark, str(tmp_path / "demo"), rows=100, seed=7)  # an earlier demo: replaced


@pytest.mark.slow
def test_the_cli_refuses_with_a_message_and_exit_1(project: Project, tmp_path: Path) -> None:
    spine = tmp_path / "spine.csv"
    spine.write_text("user_id,event_timestamp\n1,2026-01-02T00:00:00Z\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    base = ["training-set", "--spine", str(spine), "--features", "user_profile:age"]
    for out, extra, message in [
        (notes, (), "a file is already there and it is not a training set sparkfs wrote"),
        (tmp_path / "offline", ("--overwrite",), "overlaps the offline store root (offline.root)"),
        (spine, ("--overwrite",), "overlaps the spine being read"),
    ]:
        result = project.run(*base, "--out", str(out), *extra)
        assert result.returncode == 1 and message in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
    assert notes.read_text() == "mine" and spine.read_text().startswith("user_id")


def test_a_delta_training_set_is_rewritten_with_other_columns(spark: SparkSession, ws: Workspace,
                                                              built: tuple[str, str],
                                                              tmp_path: Path) -> None:
    spine, _ = built
    out = tmp_path / "ts_delta"
    write_training_set(spark, ws, spine_path=spine, out=str(out), features=FEATURES, fmt="delta")
    again = ["user_profile:age", "user_profile:country"]
    write_training_set(spark, ws, spine_path=spine, out=str(out), features=again, fmt="delta")
    columns = spark.read.format("delta").load(str(out)).columns
    assert "user_profile__country" in columns and spark.read.format("delta").load(str(out)).count() == 6
