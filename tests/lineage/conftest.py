"""One demo pipeline (data, apply, materialize, training set, sync) with lineage exported to
a file, shared by the lineage tests that only read what it recorded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from sparkfs.demo.pipeline import run_demo_pipeline
from sparkfs.pipeline.workspace import Workspace
from tests.project import Project, make_project
from tests.redis_server import RedisServer

ROWS = 4_000


@dataclass
class Demo:
    project: Project
    workspace: Workspace
    summary: dict[str, Any]
    events: Path


def openlineage_file(path: str) -> str:
    return f"lineage:\n  openlineage:\n    namespace: sparkfs-test\n    transport: {{type: file, path: {path}}}\n"


@pytest.fixture(scope="session")
def demo(spark: SparkSession, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    redis_server.client().flushall()
    root = tmp_path_factory.mktemp("lineage_demo")
    project = make_project(root, redis_url=redis_server.url, extra=openlineage_file("../openlineage/events.jsonl"))
    workspace = Workspace.open(str(project.config), user="tester")
    summary = run_demo_pipeline(spark, workspace, rows=ROWS, say=lambda _: None)
    yield Demo(project, workspace, summary, root / "openlineage" / "events.jsonl")
