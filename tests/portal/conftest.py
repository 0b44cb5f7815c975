"""The demo repository after a pipeline run (generate, apply, materialize, training set, sync),
with a review history, served by ``sparkfs serve``: what the page and browser tests look at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from sparkfs.governance.lifecycle import ReviewBoard
from sparkfs.pipeline.workspace import Workspace
from tests.portal.server import serve
from tests.project import REPO_ROOT, Project, make_project
from tests.redis_server import RedisServer


@dataclass
class Demo:
    project: Project
    workspace: Workspace
    summary: dict[str, Any]

    @property
    def training_set(self) -> str:
        return str(self.summary["training_set"]["id"])


@pytest.fixture(scope="session")
def demo(spark: SparkSession, redis_server: RedisServer,
         tmp_path_factory: pytest.TempPathFactory) -> Demo:
    from sparkfs.demo.pipeline import run_demo_pipeline

    root = tmp_path_factory.mktemp("demo")
    project = make_project(root, redis_url=redis_server.url,
                           extra="governance: {enabled: false, approvers: [alice]}\n")
    ws = Workspace.open(str(project.config), user="tester")
    summary = run_demo_pipeline(spark, ws, rows=10_000, say=lambda _: None)
    board = ReviewBoard(ws.engine, ws.config.governance)
    board.request("tester", "user_profile", comment="ready for review")
    board.approve("alice", "user_profile", comment="checked the PII tags")
    return Demo(project, ws, summary)


@pytest.fixture(scope="session")
def demo_url(demo: Demo) -> Iterator[str]:
    with serve(demo.project.config, demo.project.root) as url:
        yield url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the browser tests keep their screenshots: ``test-artifacts/catalog`` in the
    repository (git-ignored), or ``$SPARKFS_TEST_ARTIFACTS``."""
    path = Path(os.environ.get("SPARKFS_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "catalog"
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the catalog go to {path}")
    return path
