"""Sources as people have them: pandas Parquet (nanoseconds), CSV with a timestamp format, a
Delta source pinned to a version, a metastore table; and one-paragraph errors for sources that
cannot be read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from sparkfs.definitions import FeatureView
from sparkfs.errors import NotFoundError, SchemaMismatchError, SparkfsError
from sparkfs.offline.parquet import NANOS_AS_LONG
from sparkfs.offline.source import read_source
from sparkfs.pipeline.materialize import materialize, offline_table
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from tests.project import make_project

VIEW = """feature_views:
  - name: scores
    entities: [user]
    source: {source}
    timestamp_column: event_ts
    created_timestamp_column: created
    features: [{{name: score, type: float64}}]
    owner: risk-team@example.com
"""


def workspace(tmp_path: Path, source: str) -> Workspace:
    project = make_project(tmp_path)
    (project.features / "scores.yaml").write_text(VIEW.format(source=source))
    ws = Workspace.open(str(project.config), user="tester")
    DefinitionStore(ws.engine).apply(ws.repository, user="tester")
    return ws


def view(source: dict[str, Any]) -> FeatureView:
    return FeatureView.model_validate({
        "name": "scores", "entities": ["user"], "source": source, "timestamp_column": "event_ts",
        "features": [{"name": "score", "type": "float64"}], "owner": "o"})


def stored(spark: SparkSession, ws: Workspace) -> list[tuple[Any, ...]]:
    table = offline_table(ws, ws.repository.feature_view("scores")).read(spark)
    return sorted(tuple(r) for r in table.select("user_id", "event_timestamp", "_created_at",
                                                  "score").collect())


def materialize_all(spark: SparkSession, ws: Workspace) -> None:
    materialize(spark, ws, "scores", start=date(2024, 1, 1), end=date(2024, 2, 1))


def pandas_frame() -> pd.DataFrame:
    events = pd.to_datetime(["2024-01-01 10:00:00.123456789", "2024-01-01 10:00:00.123456789",
                             "2024-01-02 00:00:00.000000999"])
    created = pd.to_datetime(["2024-01-01 11:00:00.000000001", "2024-01-01 12:00:00.500000000",
                              "2024-01-02 01:00:00.000000000"]).tz_localize("UTC")
    return pd.DataFrame({"user_id": [1, 1, 2], "event_ts": events, "created": created,
                         "score": [3.0, 2.0, 4.0]})


def test_a_parquet_file_written_by_pandas_materializes(spark: SparkSession, tmp_path: Path) -> None:
    ws = workspace(tmp_path, "{type: parquet, path: scores.parquet}")
    Path(ws.config.data_dir).mkdir(parents=True, exist_ok=True)
    pandas_frame().to_parquet(Path(ws.config.data_dir) / "scores.parquet")  # defaults: nanoseconds
    materialize_all(spark, ws)
    # to the microsecond (nanoseconds truncated); naive times are UTC; the later created wins
    assert stored(spark, ws) == [
        (1, datetime(2024, 1, 1, 10, 0, 0, 123456),
         datetime(2024, 1, 1, 12, 0, 0, 500000), 2.0),
        (2, datetime(2024, 1, 2, 0, 0, 0, 0), datetime(2024, 1, 2, 1, 0, 0), 4.0),
    ]


def test_a_csv_source_with_a_timestamp_format(spark: SparkSession, tmp_path: Path) -> None:
    ws = workspace(tmp_path, "{type: csv, path: scores.csv, timestamp_format: 'dd/MM/yyyy HH:mm', "
                             "options: {header: 'true', inferSchema: 'true'}}")
    Path(ws.config.data_dir).mkdir(parents=True, exist_ok=True)
    (Path(ws.config.data_dir) / "scores.csv").write_text(
        "user_id,event_ts,created,score\n1,05/01/2024 10:30,05/01/2024 11:00,1.5\n"
        "1,05/01/2024 10:30,06/01/2024 09:00,1.0\n")
    materialize_all(spark, ws)
    assert stored(spark, ws) == [(1, datetime(2024, 1, 5, 10, 30), datetime(2024, 1, 6, 9, 0), 1.0)]


def delta_scores(spark: SparkSession, path: str, rows: list[tuple[Any, ...]]) -> None:
    spark.createDataFrame(rows, "user_id long, event_ts timestamp, created timestamp, score double") \
        .write.format("delta").mode("append").save(path)


def test_a_delta_source_pinned_to_a_version(spark: SparkSession, tmp_path: Path) -> None:
    ws = workspace(tmp_path, "{type: delta, path: scores, version: 0}")
    path = str(Path(ws.config.data_dir) / "scores")
    t = datetime(2024, 1, 3, 8, 0)
    delta_scores(spark, path, [(1, t, t, 1.0)])
    delta_scores(spark, path, [(1, t, datetime(2024, 1, 3, 9, 0), 9.0)])  # version 1: ignored
    materialize_all(spark, ws)
    assert stored(spark, ws) == [(1, t, t, 1.0)]
    [run] = ws.runs.list(feature_view="scores")
    assert run.input_versions == {path: 0}


def test_a_metastore_table_source(spark: SparkSession, tmp_path: Path) -> None:
    ws = workspace(tmp_path, "{type: table, table: sparkfs_test_scores}")
    location = tmp_path / "external"
    t = datetime(2024, 1, 4, 8, 0)
    spark.createDataFrame([(2, t, t, 2.5)], "user_id long, event_ts timestamp, created timestamp, "
                          "score double").write.parquet(str(location))
    spark.sql(f"CREATE TABLE sparkfs_test_scores USING parquet LOCATION '{location}'")
    try:
        materialize_all(spark, ws)
    finally:
        spark.sql("DROP TABLE sparkfs_test_scores")
    assert stored(spark, ws) == [(2, t, t, 2.5)]


# ------------------------------------------------------------------------------ errors


def one_paragraph(error: SparkfsError, *parts: str) -> None:
    text = str(error)
    assert "\n" not in text and "org.apache" not in text and "Traceback" not in text, text
    for part in ("feature view 'scores'", *parts):
        assert part in text, text


@pytest.fixture()
def nanos_off(spark: SparkSession) -> Iterator[None]:
    spark.conf.set(NANOS_AS_LONG, "false")
    try:
        yield
    finally:
        spark.conf.set(NANOS_AS_LONG, "true")


def test_nanosecond_parquet_without_the_setting_names_the_file_the_column_and_the_fix(
        spark: SparkSession, tmp_path: Path, nanos_off: None) -> None:
    pandas_frame().to_parquet(tmp_path / "p.parquet")
    with pytest.raises(SchemaMismatchError) as err:
        read_source(spark, view({"type": "parquet", "path": "p.parquet"}), str(tmp_path))
    one_paragraph(err.value, str(tmp_path / "p.parquet"), "column(s) event_ts, created",
                  NANOS_AS_LONG, "coerce_timestamps='us'")


@pytest.mark.parametrize(("source", "error", "says"), [
    ({"type": "parquet", "path": "missing"}, NotFoundError, "does not exist or is not a parquet source"),
    ({"type": "delta", "path": "missing"}, NotFoundError, "does not exist or is not a delta source"),
    ({"type": "csv", "path": "missing.csv"}, NotFoundError, "does not exist"),
    ({"type": "table", "table": "no_such_table"}, NotFoundError, "is not a table of the metastore"),
    ({"type": "parquet", "path": "text.parquet"}, SchemaMismatchError, "cannot be read as parquet"),
    ({"type": "delta", "path": "d", "version": 7}, NotFoundError, "has no such Delta version"),
], ids=["parquet", "delta", "csv", "table", "not-parquet", "delta-version"])
def test_a_source_that_cannot_be_read_fails_with_one_paragraph(
        spark: SparkSession, tmp_path: Path, source: dict[str, Any], error: type[SparkfsError],
        says: str) -> None:
    (tmp_path / "text.parquet").write_text("user_id,event_ts\n1,2024-01-01\n")
    delta_scores(spark, str(tmp_path / "d"), [(1, datetime(2024, 1, 1), None, 1.0)])
    with pytest.raises(error) as err:
        read_source(spark, view(source), str(tmp_path))
    where = f"table:{source['table']}" if "table" in source else str(tmp_path / source["path"])
    one_paragraph(err.value, where, says)


def test_a_timestamp_that_does_not_match_the_format_fails_with_one_paragraph(
        spark: SparkSession, tmp_path: Path) -> None:
    ws = workspace(tmp_path, "{type: csv, path: scores.csv, timestamp_format: 'dd/MM/yyyy HH:mm', "
                             "options: {header: 'true', inferSchema: 'true'}}")
    Path(ws.config.data_dir).mkdir(parents=True, exist_ok=True)
    (Path(ws.config.data_dir) / "scores.csv").write_text(
        "user_id,event_ts,created,score\n1,2024-01-05 10:30,05/01/2024 11:00,1.5\n")
    with pytest.raises(SchemaMismatchError) as err:
        materialize_all(spark, ws)
    one_paragraph(err.value, "scores.csv", "timestamp_format", "2024-01-05 10:30")
