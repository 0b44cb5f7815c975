from __future__ import annotations

from pyspark.sql import SparkSession


def test_session_writes_and_reads_delta_in_utc(spark: SparkSession, tmp_path) -> None:
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    path = str(tmp_path / "t")
    spark.range(5).write.format("delta").save(path)
    assert spark.read.format("delta").load(path).count() == 5


def test_redis_fixture_is_a_real_server(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert client.info("server")["redis_version"]
