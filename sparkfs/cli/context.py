"""What every CLI command needs, opened lazily: config, repository, registry, Spark."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from sparkfs.config import SparkfsConfig, default_config_path, load_config
from sparkfs.control_chars import refuse_control
from sparkfs.registry import AuditLog, DefinitionStore, open_engine
from sparkfs.registry.runs import RunStore
from sparkfs.repository import Repository, load_repository

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.offline.materialize import Gate
    from sparkfs.workspace import Workspace

__all__ = ["CliContext", "current_user"]


def current_user(explicit: str | None = None) -> str:
    """``--user``, else ``$SPARKFS_USER``, else the login name (printable text only)."""
    if explicit:
        return refuse_control(explicit, "--user")
    if os.environ.get("SPARKFS_USER"):
        return refuse_control(os.environ["SPARKFS_USER"], "$SPARKFS_USER")
    return getpass.getuser()


@dataclass
class CliContext:
    config_path: Path | None
    debug: bool = False
    user_override: str | None = None
    master: str | None = None
    _spark: SparkSession | None = field(default=None, repr=False)

    @cached_property
    def config(self) -> SparkfsConfig:
        return load_config(self.config_path or default_config_path())

    @cached_property
    def repository(self) -> Repository:
        return load_repository(self.config.features_dir)

    @cached_property
    def engine(self) -> Engine:
        return open_engine(self.config.registry.url)

    @cached_property
    def definitions(self) -> DefinitionStore:
        return DefinitionStore(self.engine)

    @cached_property
    def runs(self) -> RunStore:
        return RunStore(self.engine)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.engine)

    def workspace(self, sandbox: bool = False) -> Workspace:
        from sparkfs.workspace import Workspace

        return Workspace(
            config=self.config, repository=self.repository, engine=self.engine, user=self.user,
            namespace="sandbox" if sandbox else "production",
        )

    def quality_gate(self) -> Gate | None:
        """The quality gate jobs run before committing (the views' declared expectations)."""
        from sparkfs.quality.gate import quality_gate

        return quality_gate

    @property
    def user(self) -> str:
        return current_user(self.user_override)

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            from sparkfs.session import build_session

            self._spark = build_session(self.config, master=self.master)
            self._spark.sparkContext.setLogLevel("WARN")
        return self._spark

    def close(self) -> None:
        if self._spark is not None:
            self._spark.stop()
            self._spark = None
