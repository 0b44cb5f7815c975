"""Run one sync in a child process (killed mid-way by test_sync_recovery, overlapped by
test_sync_lease). Arguments: table path, Redis URL, the sync's ``now``, the lease in seconds."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

from sparkfs.config import RedisConfig
from sparkfs.online.checkpoints import InMemoryCheckpointStore
from sparkfs.online.sync import sync_feature_view
from sparkfs.session import BASE_SPARK_CONF
from tests.conftest import TEST_SPARK_CONF
from tests.online.test_sync import VIEW


def main(path: str, url: str, now_iso: str, lease_s: str = "30") -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master("local[2]").appName("sparkfs-sync-child")
    for key, value in {**BASE_SPARK_CONF, **TEST_SPARK_CONF}.items():
        builder = builder.config(key, value)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    print("started", flush=True)
    sync_feature_view(spark, table_path=path, view=VIEW, online=RedisConfig(url=url, batch_size=5, sync_lease_s=float(lease_s)),
                      checkpoints=InMemoryCheckpointStore(),
                      now=datetime.fromisoformat(now_iso).astimezone(UTC))


if __name__ == "__main__":
    main(*sys.argv[1:5])
