"""What every CLI command needs, opened lazily: the config, the workspace, a SparkSession.

The repository, registry and acting user are the production :class:`Workspace`'s (opened on
first use, with the same identity rules as the library); ``--sandbox`` commands use its
sandbox namespace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from sparkfs.config import SparkfsConfig, default_config_path, load_config

if TYPE_CHECKING:
    from sparkfs.definitions.loader import Repository
    from sparkfs.governance.identity import Identity
    from sparkfs.registry import AuditLog, DefinitionStore
    from sparkfs.registry.runs import RunStore

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.pipeline.materialize import Gate
    from sparkfs.pipeline.workspace import Workspace

__all__ = ["CliContext"]


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
    def _production(self) -> Workspace:
        """The production workspace this command acts in (opened once, on first use)."""
        import click

        from sparkfs.pipeline.workspace import Workspace

        return Workspace.open(self.config, user=self.user_override, note=lambda line: click.echo(line, err=True))

    @property
    def repository(self) -> Repository:
        return self._production.repository

    @property
    def engine(self) -> Engine:
        return self._production.engine

    @property
    def definitions(self) -> DefinitionStore:
        return self._production.definitions

    @property
    def runs(self) -> RunStore:
        return self._production.runs

    @property
    def audit(self) -> AuditLog:
        return self._production.audit

    @property
    def user(self) -> str:
        return self._production.user

    @property
    def identity(self) -> Identity:
        """Who this command acts as (``governance.identity``; see docs/governance.md)."""
        identity = self._production.identity
        assert identity is not None  # Workspace.open sets it
        return identity

    def workspace(self, sandbox: bool = False) -> Workspace:
        return self._production.in_namespace("sandbox" if sandbox else "production")

    def quality_gate(self) -> Gate | None:
        """The quality gate jobs run before committing (the views' declared expectations)."""
        from sparkfs.pipeline.quality import quality_gate

        return quality_gate

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            from sparkfs.session import build_session

            config = self.config if self.debug else _quiet(self.config, self.master)
            self._spark = build_session(config, master=self.master)
            self._spark.sparkContext.setLogLevel("WARN" if self.debug else "ERROR")
        return self._spark

    def close(self) -> None:
        if self._spark is not None:
            self._spark.stop()
            self._spark = None


_QUIET_LOG4J = Path(__file__).with_name("log4j2-quiet.properties")


def _quiet(config: SparkfsConfig, master: str | None) -> SparkfsConfig:
    """Keep Spark's start-up and warning lines out of a command's output (``--debug`` keeps
    them): a log4j2 file that logs errors only, and a loopback address for a local master (no
    "hostname resolves to a loopback address" warning)."""
    conf = dict(config.spark.conf)
    option = f"-Dlog4j2.configurationFile=file:{_QUIET_LOG4J}"
    if "log4j" not in conf.get("spark.driver.extraJavaOptions", ""):
        conf["spark.driver.extraJavaOptions"] = " ".join(
            filter(None, [conf.get("spark.driver.extraJavaOptions"), option]))
    if (master or config.spark.master).startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return config.model_copy(update={"spark": config.spark.model_copy(update={"conf": conf})})
