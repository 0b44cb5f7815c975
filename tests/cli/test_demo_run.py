"""``sparkfs demo run`` (the quickstart's command) end to end: a short summary a person can read,
with what was built, where, online = offline, and the next commands; the JSON behind --json;
Spark's own log lines stay out unless --debug."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.project import make_project

SPARK_NOISE = ("log4j", "NativeCodeLoader", "resolves to a loopback address", "Truncated the string",
               " WARN ")


@pytest.mark.slow
def test_demo_run_prints_a_summary_without_spark_noise(tmp_path: Path, redis_url: str) -> None:
    project = make_project(tmp_path, redis_url=redis_url)
    result = project.run("demo", "run", "--rows", "10000")
    assert result.returncode == 0, result.stderr[-3000:]
    out, err = result.stdout, result.stderr
    assert "Traceback" not in err
    for noise in SPARK_NOISE:
        assert noise not in out + err, noise
    assert len(out.splitlines()) < 40  # a summary, not a dump
    for view in ("merchant_txn_aggs", "user_profile", "user_txn_aggs"):
        assert re.search(rf"  {view} +[\d,]+ rows written, table version \d+", out), out
        assert re.search(rf"  {view} +[\d,]+ entities \(full\), 0 of \d+ differ", out), out
    assert re.search(r"Training set fraud_model: [\d,]+ rows -> .*training_sets/fraud_model", out)
    assert "sparkfs training-set reproduce" in out and "Next:" in out and "sparkfs serve" in out
    # active users have recent counts, read at the time of the lookup
    assert re.search(r"user \d: present, txn_count 1h \d+, 1d \d+, 7d [1-9]\d*", out), out
    # it ends by saying where the governance report and the catalog are
    report = re.search(r"Governance report \(checklist and lineage\): (PASS|WARN|FAIL) .*\n  (\S+report\.html)", out)
    assert report, out
    assert Path(report.group(2)).is_file() and "<svg" in Path(report.group(2)).read_text()
    assert out.rstrip().splitlines()[-1].startswith("Feature catalog: http://127.0.0.1:6566/catalog")


def test_the_summary_lines_come_from_the_run_summary(tmp_path: Path) -> None:
    from sparkfs.cli.context import CliContext
    from sparkfs.cli.demo_cmd import summary_lines

    project = make_project(tmp_path)
    summary = {
        "seconds": 61.2, "demo": {"transactions": 1234, "users": 10, "merchants": 3},
        "materialized": {"v": {"rows_written": 4321, "table_version": 2, "seconds": 1.0}},
        "training_set": {"id": "abc123", "out": "/x/ts", "rows": 99, "table_versions": {}},
        "online": {"synced": {"v": {"mode": "incremental", "entities_written": 7}},
                   "consistency": {"v": {"checked": 7, "mismatched": 1}},
                   "lookup": [{"user_id": 1, "user_txn_aggs": {
                       "status": "present", "event_time": "2026-12-01 07:00:00+00:00",
                       "values": {"txn_count_1h": 0, "txn_count_1d": 7, "txn_count_7d": 43,
                                  "txn_count_30d": 172}}}]},
        "report": {"level": "warn", "counts": {"pass": 20, "warn": 2, "fail": 0},
                   "files": {"html": "/x/report/report.html"}},
    }
    lines = "\n".join(summary_lines(summary, CliContext(config_path=project.config)))
    assert "done in 61 s (1,234 transactions of 10 users at 3 merchants)" in lines
    assert re.search(r"  v +4,321 rows written, table version 2", lines)
    assert "Training set fraud_model: 99 rows -> /x/ts" in lines and "reproduce abc123" in lines
    assert re.search(r"  v +7 entities \(incremental\), 1 of 7 differ", lines)
    assert "user 1: present, txn_count 1h 0, 1d 7, 7d 43, 30d 172" in lines
    assert "Governance report (checklist and lineage): WARN (20 pass, 2 warn, 0 fail)" in lines
    assert "  /x/report/report.html  (also report.md" in lines
    assert lines.splitlines()[-1].startswith("Feature catalog: http://127.0.0.1:6566/catalog")
    json.dumps(summary)  # what --json prints
