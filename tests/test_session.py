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


def test_call_site_capture_is_off_unless_the_config_turns_it_on(spark: SparkSession) -> None:
    from pyspark.errors.utils import is_debugging_enabled
    from pyspark.sql import SparkSession as Session

    from sparkfs.config import SparkConfig, SparkfsConfig
    from sparkfs.session import configure_builder

    key = "spark.python.sql.dataFrameDebugging.enabled"
    assert spark.conf.get(key) == "false" and not is_debugging_enabled()
    default = configure_builder(Session.Builder(), SparkfsConfig(project="p"))
    assert default._options[key] == "false"
    wanted = SparkfsConfig(project="p", spark=SparkConfig(conf={key: "true"}))
    assert configure_builder(Session.Builder(), wanted)._options[key] == "true"
