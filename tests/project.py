"""A throwaway sparkfs project (config + copy of the example features) for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["Project", "make_project"]


@dataclass
class Project:
    root: Path
    config: Path

    @property
    def features(self) -> Path:
        return self.root / "conf" / "features"

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run the sparkfs CLI in a subprocess against this project (and check that, without
        ``--debug``, it printed no Python traceback)."""
        full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SPARKFS_USER": "tester", **(env or {})}
        full_env.pop("SPARKFS_CONFIG", None)
        result = subprocess.run(
            [sys.executable, "-m", "sparkfs.cli", "--config", str(self.config), *args],
            capture_output=True, text=True, env=full_env, timeout=timeout, cwd=self.root,
        )
        if "--debug" not in args:
            # every CLI path, failing or not, says what happened in words: no Python traceback
            assert "Traceback" not in result.stderr, result.stderr[-3000:]
        return result


def make_project(tmp: Path, redis_url: str = "redis://127.0.0.1:1/0", extra: str = "") -> Project:
    conf = tmp / "conf"
    shutil.copytree(REPO_ROOT / "conf" / "features", conf / "features")
    config = conf / "sparkfs.yaml"
    config.write_text(
        f"""project: test
data_dir: ../data
offline: {{root: ../offline, sandbox_root: ../sandbox}}
registry: {{url: "sqlite:///../registry.db"}}
online: {{type: redis, url: "{redis_url}"}}
spark:
  master: local[2]
  conf:
    spark.sql.shuffle.partitions: "2"
    spark.default.parallelism: "2"
    spark.databricks.delta.snapshotPartitions: "2"
    spark.ui.enabled: "false"
{extra}"""
    )
    return Project(root=tmp, config=config)
