from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from tests.project import Project, make_project

USERS_SCHEMA = T.StructType([
    T.StructField("user_id", T.LongType()),
    T.StructField("updated_at", T.TimestampType()),
    T.StructField("age", T.IntegerType()),
    T.StructField("country", T.StringType()),
    T.StructField("is_premium", T.BooleanType()),
])


def ts(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path)


@pytest.fixture()
def ws(project: Project) -> Workspace:
    workspace = Workspace.open(str(project.config), user="tester")
    DefinitionStore(workspace.engine).apply(workspace.repository, user="tester")
    return workspace


def write_users(spark: SparkSession, ws: Workspace, rows: list[tuple], mode: str = "append") -> None:
    path = str(Path(ws.config.data_dir) / "demo" / "users")
    spark.createDataFrame(rows, USERS_SCHEMA).write.format("delta").mode(mode).option(
        "overwriteSchema", "true"
    ).save(path)
