"""Spark session configuration.

Library code never creates a session: it receives one. Only ``jobs/``, the CLI and test fixtures
call :func:`build_session`. :func:`configure_builder` follows delta-spark's
``configure_spark_with_delta_pip``: it takes a builder and returns it, so callers stay in
control of what else they set.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from delta import configure_spark_with_delta_pip

from sparkfs.jars import resolved_jars
from sparkfs.spark_conf import BASE_SPARK_CONF

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from sparkfs.config import SparkfsConfig

__all__ = ["BASE_SPARK_CONF", "build_session", "configure_builder"]


def configure_builder(
    builder: SparkSession.Builder, config: SparkfsConfig, *, master: str | None = None
) -> SparkSession.Builder:
    """Apply sparkfs' Spark settings and Delta's packages to ``builder``.

    ``master`` overrides ``spark.master`` from the config (``--master`` on the CLI). Under
    ``spark-submit`` the master and packages are already set by the launcher, so pass
    ``master=None`` and leave ``SPARKFS_SUBMITTED=1`` in the environment.
    """
    submitted = os.environ.get("SPARKFS_SUBMITTED") == "1"
    if not submitted:
        builder = builder.master(master or config.spark.master)
    builder = builder.appName(config.spark.app_name)
    settings = {**BASE_SPARK_CONF, **config.spark.conf}
    for key, value in settings.items():
        builder = builder.config(key, value)
    if submitted:
        return builder
    jars = resolved_jars()
    if jars is not None:
        # Delta's jars as resolved once by `python -m sparkfs.jars warm`: no Ivy at start-up.
        # The user's own spark.jars come first; their spark.jars.packages stay for Ivy.
        return builder.config("spark.jars", ",".join([*_listed(settings.get("spark.jars")), *jars]))
    # delta-spark's helper sets spark.jars.packages: keep the user's packages next to Delta's
    return configure_spark_with_delta_pip(builder, extra_packages=_listed(settings.get("spark.jars.packages")))


def _listed(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def build_session(config: SparkfsConfig, *, master: str | None = None) -> SparkSession:
    """Create (or return the running) session configured for ``config``."""
    from pyspark.sql import SparkSession

    return configure_builder(SparkSession.builder, config, master=master).getOrCreate()
