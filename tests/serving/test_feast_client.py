"""Feast 0.67's own client (``online_store: type: remote``) against a running ``sparkfs serve``.

The example feature repository (conf/features: user and merchant views, the ``fraud_model``
service whose names collide), its sources materialized and synced to a real redis-server by
Spark, served by ``sparkfs serve`` in a subprocess, read by Feast's ``FeatureStore`` running
in its own virtualenv (tests/feast_client_env.py; its pins clash with ours) through
tests/serving/feast_client/driver.py. Values are checked against sparkfs's own endpoint on the
same server and against the rows written; statuses and exception classes as Feast's client
reports them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from sparkfs.config import load_config
from sparkfs.pipeline.materialize import materialize
from sparkfs.pipeline.sync import sync_online
from sparkfs.pipeline.workspace import Workspace
from sparkfs.registry import DefinitionStore
from sparkfs.serving.auth import hash_key
from tests.conftest import REPO_ROOT
from tests.feast_client_env import CLIENT_DIR, feast_python
from tests.offline.conftest import write_users
from tests.project import make_project
from tests.redis_server import free_port
from tests.serving.conftest import Project, serve_subprocess

NOW = datetime.now(UTC).replace(microsecond=0)
AUTH = f"""serving:
  auth_enabled: true
  api_keys:
    - {{name: all, sha256: {hash_key("k-all")}, scopes: ["*"]}}
    - {{name: users, sha256: {hash_key("k-users")}, scopes: [user_profile, user_txn_aggs]}}
"""
TXNS = T.StructType([T.StructField("txn_id", T.LongType()), T.StructField("user_id", T.LongType()),
                     T.StructField("merchant_id", T.LongType()),
                     T.StructField("amount", T.DoubleType()), T.StructField("ts", T.TimestampType())])
#: Three views, no two feature names alike.
SEVERAL = ["user_profile:age", "user_txn_aggs:txn_count_1d", "merchant_txn_aggs:txn_amount_avg_1d"]


@pytest.fixture(scope="module")
def server(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory,
           redis_server: Any) -> Iterator[str]:
    """users 1 (31, FR) and 2 (a null age, DE); user 1 buys twice at merchant 501 (10 and 30,
    2h and 3h ago), user 2 once at 501 (50, 1h ago) and once at 502 (5, 2 days ago)."""
    redis_server.client().flushall()
    root = tmp_path_factory.mktemp("feast_client")
    config = make_project(root, redis_url=redis_server.url, extra=AUTH).config
    ws = Workspace.open(str(config), user="tester")
    DefinitionStore(ws.engine).apply(ws.repository, user="tester")
    write_users(spark, ws, [(1, NOW - timedelta(days=1), 31, "FR", True),
                            (2, NOW - timedelta(days=1), None, "DE", False)])
    spark.createDataFrame([
        (1, 1, 501, 10.0, NOW - timedelta(hours=2)), (2, 1, 501, 30.0, NOW - timedelta(hours=3)),
        (3, 2, 501, 50.0, NOW - timedelta(hours=1)), (4, 2, 502, 5.0, NOW - timedelta(days=2)),
    ], TXNS).write.format("delta").save(str(Path(ws.config.data_dir) / "demo" / "transactions"))
    for view in ("user_profile", "user_txn_aggs", "merchant_txn_aggs"):
        materialize(spark, ws, view)
    assert {r.view_name for r in sync_online(spark, ws)} >= {"user_profile", "merchant_txn_aggs"}
    with serve_subprocess(Project(root, load_config(config), ws)) as url:
        yield url


@pytest.fixture(scope="module")
def feast(server: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``feast(cases, token="k-all", others=[])``: what Feast's client returned or raised, per
    case name."""
    python = feast_python()
    work = tmp_path_factory.mktemp("feast_repo")

    def run(cases: list[dict[str, Any]], token: str | None = "k-all",
            others: Sequence[tuple[str | None, list[dict[str, Any]]]] = ()) -> dict[str, Any]:
        """``others``: more (token, cases) clients, run by the same Feast process."""
        clients = [{"token": t, "cases": c} for t, c in [(token, cases), *others]]
        request = {"url": server, "work_dir": str(work), "clients": clients}
        done = subprocess.run([str(python), str(CLIENT_DIR / "driver.py")], input=json.dumps(request),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        out: dict[str, Any] = json.loads(done.stdout)
        return out

    return run


def own_columns(server: str, body: dict[str, Any], full_feature_names: bool) -> dict[str, list[Any]]:
    """sparkfs's own endpoint's answer, as Feast's ``to_dict()`` would name its columns."""
    resp = httpx.post(server + "/v1/features:lookup", json=body,
                      headers={"Authorization": "Bearer k-all"})
    assert resp.status_code == 200, resp.text
    rows = resp.json()["rows"]
    columns: dict[str, list[Any]] = {k: [r["entity"][k] for r in rows] for k in body["entities"]}
    for ref in resp.json()["features"]:
        name = ref.replace(":", "__") if full_feature_names else ref.split(":")[1]
        columns[name] = [r["features"][ref]["value"] for r in rows]
    return columns


def case(name: str, entity_rows: Any, features: list[str] | None = None,
         feature_service: str | None = None, **options: Any) -> dict[str, Any]:
    return {"name": name, "features": features, "feature_service": feature_service,
            "entity_rows": entity_rows, **options}


@pytest.mark.slow
def test_values_and_statuses(server: str, feast: Any) -> None:
    users = [{"user_id": 1}, {"user_id": 2}, {"user_id": 999}]
    several = SEVERAL
    pairs = [{"user_id": 1, "merchant_id": 501}, {"user_id": 2, "merchant_id": 502},
             {"user_id": 999, "merchant_id": 999}]
    got = feast([
        case("one view", users, ["user_profile:age", "user_profile:country"]),
        case("several views", pairs, several),
        case("several views, full names", pairs, several, full_feature_names=True),
        case("service, full names", pairs, feature_service="fraud_model", full_feature_names=True),
        case("numeric strings", [{"user_id": "1"}, {"user_id": "2"}, {"user_id": "999"}],
             ["user_profile:age", "user_profile:country"]),
        case("columnar rows", {"user_id": [1, 2, 999]}, ["user_profile:age", "user_profile:country"]),
        case("version metadata", pairs[:1], several, include_feature_view_version_metadata=True),
        case("another view's key", [{"merchant_id": "501", "user_id": 1}], ["user_profile:age"]),
    ])
    assert all(not o["warnings"] and "error" not in o for o in got.values()), got
    one = got["one view"]
    assert one["values"] == {"user_id": [1, 2, 999], "age": [31, None, None],
                             "country": ["FR", "DE", None]}
    # a stored null (user 2's age) is PRESENT, as Feast's server sends it
    assert one["statuses"]["age"] == ["PRESENT", "PRESENT", "NOT_FOUND"]
    assert one["statuses"]["user_id"] == ["PRESENT"] * 3
    assert got["numeric strings"]["values"] == one["values"]  # "1" read as (and echoed) 1
    assert got["columnar rows"]["values"] == one["values"]
    entities = {"user_id": [1, 2, 999], "merchant_id": [501, 502, 999]}
    for name, full in (("several views", False), ("several views, full names", True)):
        assert got[name]["values"] == own_columns(server, {"features": several, "entities": entities},
                                                  full), name
    # (aggregate values themselves are issue 14's: here they only have to equal sparkfs's own)
    assert got["several views"]["statuses"]["txn_count_1d"] == ["PRESENT", "PRESENT", "NOT_FOUND"]
    assert got["several views"]["values"]["age"] == [31, None, None]
    service = got["service, full names"]
    own = own_columns(server, {"feature_service": "fraud_model", "entities": entities}, True)
    assert service["values"] == own and service["feature_names"] == list(own)
    assert len(own) == 2 + 2 + 12 + 4  # keys, user_profile's 2, user_txn_aggs:*, merchant_txn_aggs:*
    assert got["version metadata"]["feature_view_metadata"] == [
        {"name": v, "version": 0} for v in ("user_profile", "user_txn_aggs", "merchant_txn_aggs")]
    assert got["several views"]["feature_view_metadata"] == []
    # echoed (converted) as Feast's server echoes every join key it knows, in request order
    assert got["another view's key"]["feature_names"] == ["merchant_id", "user_id", "age"]
    assert got["another view's key"]["values"] == {"merchant_id": [501], "user_id": [1], "age": [31]}


@pytest.mark.slow
def test_errors_are_feast_exceptions(server: str, feast: Any) -> None:
    pair = [{"user_id": 1, "merchant_id": 501}]
    got = feast([
        case("colliding names", pair, feature_service="fraud_model"),
        case("colliding features", pair, ["user_txn_aggs:txn_count_1d", "merchant_txn_aggs:txn_count_1d"]),
        case("unknown view", [{"user_id": 1}], ["nope:age"]),
        case("unknown service", [{"user_id": 1}], feature_service="nope"),
        case("unknown feature", [{"user_id": 1}], ["user_profile:nope"]),
        case("lossy key", [{"user_id": "01"}], ["user_profile:age"]),
        case("missing key", [{"merchant_id": 501}], ["user_profile:age"]),
    ], others=[("k-users", [case("outside scopes", pair, ["merchant_txn_aggs:txn_count_1d"])]),
               (None, [case("no key", pair, ["user_profile:age"])]),
               ("nope", [case("wrong key", pair, ["user_profile:age"])])])
    expected = {
        "colliding names": "FeatureNameCollisionError", "colliding features": "FeatureNameCollisionError",
        "unknown view": "FeatureViewNotFoundException",
        "unknown service": "FeatureServiceNotFoundException",
        "unknown feature": "FeastObjectNotFoundException",
        "lossy key": "FeastError", "missing key": "FeastError",
        "outside scopes": "FeastPermissionError", "no key": "FeastPermissionError",
        "wrong key": "FeastPermissionError",
    }
    assert {n: o.get("error", {}).get("class") for n, o in got.items()} == {
        n: f"feast.errors.{c}" for n, c in expected.items()}
    assert all(o["error"]["feast_error"] and not o["warnings"] for o in got.values()), got
    collision = got["colliding names"]["error"]["message"]
    assert "txn_count_1d" in collision and "full_feature_names: true" in collision
    assert "nope" in got["unknown view"]["error"]["message"]
    assert "entities.user_id[0]" in got["lossy key"]["error"]["message"]
    assert "merchant_txn_aggs" in got["outside scopes"]["error"]["message"]


@pytest.mark.slow
def test_requests_feast_accepts_on_the_same_server(server: str) -> None:
    """What Feast's client cannot send but its server accepts: features with feature_service."""
    headers = {"Authorization": "Bearer k-all"}
    body = {"feature_service": "fraud_model", "full_feature_names": True,
            "entities": {"user_id": [1], "merchant_id": [501]}}
    alone = httpx.post(server + "/get-online-features", json=body, headers=headers)
    both = httpx.post(server + "/get-online-features", headers=headers,
                      json={**body, "features": ["user_txn_aggs:*", "merchant_txn_aggs:*",
                                                 "user_profile:is_premium", "user_profile:age"]})
    assert alone.status_code == both.status_code == 200 and both.json() == alone.json()
    dropped = httpx.post(server + "/get-online-features", headers=headers,
                         json={**body, "features": ["user_profile:country"]})
    assert dropped.status_code == 422
    assert "silently ignore features" in json.loads(dropped.json())["message"]


def curl_examples(markdown: str) -> list[tuple[str, dict[str, str], str]]:
    """(path, headers, body) of each ``curl ... -d`` in the doc, with the headers curl would
    send (``-d`` alone sends a form content type)."""
    examples = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.S):
        for command in re.split(r"^(?=curl )", block, flags=re.M)[1:]:  # one curl to the next
            args = shlex.split(command)
            if "-d" not in args:
                continue
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            for flag, value in itertools.pairwise(args):
                if flag == "-H":
                    name, _, text = value.partition(":")
                    headers[name.strip()] = text.strip()
            url = next(a for a in args if a.startswith("localhost:"))
            examples.append((url.partition("/")[2], headers, args[args.index("-d") + 1]))
    return examples


@pytest.mark.slow
def test_the_documented_curl_lookups_work(server: str) -> None:
    """docs/serving.md's curl examples, sent as curl sends them, to the example repository."""
    examples = curl_examples((REPO_ROOT / "docs" / "serving.md").read_text())
    assert {path for path, _, _ in examples} >= {"v1/features:lookup", "get-online-features"}
    for path, headers, body in examples:
        resp = httpx.post(f"{server}/{path}", content=body,
                          headers={**headers, "Authorization": "Bearer k-all"})
        assert resp.status_code == 200, (path, headers, resp.text)


@pytest.fixture(scope="module")
def feast_server(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Feast's own ``feast serve`` (SQLite online store) holding exactly what sparkfs serves for
    users 1, 2 and merchants 501, 502: the same views, features, types, values, event times."""
    auth = {"Authorization": "Bearer k-all"}
    views = httpx.get(server + "/v1/feature-views", headers=auth).json()
    services = httpx.get(server + "/v1/feature-services", headers=auth).json()
    ids = {"user_id": [1, 2], "merchant_id": [501, 502]}
    spec_views = []
    for view in views:
        keys = [k["name"] for k in view["entity_keys"]]
        lookup = httpx.post(server + "/v1/features:lookup", headers=auth, json={
            "features": [f"{view['name']}:*"], "entities": {k: ids[k] for k in keys}}).json()
        rows = [{**row["entity"], "event_timestamp": answers[0]["event_time"],
                 **{ref.split(":")[1]: a["value"] for ref, a in row["features"].items()}}
                for row in lookup["rows"]
                if (answers := list(row["features"].values()))[0]["status"] == "PRESENT"]
        spec_views.append({"name": view["name"], "entities": keys, "ttl_s": view["ttl_s"],
                           "features": view["features"], "rows": rows})
    spec = {
        "dir": str(tmp_path_factory.mktemp("feast_serve")), "port": free_port(),
        "entities": [{"name": k["name"], "join_key": k["name"], "type": k["type"]}
                     for k in {k["name"]: k for v in views for k in v["entity_keys"]}.values()],
        "views": spec_views,
        "services": [{"name": s["name"], "features": {
            v: [ref.split(":")[1] for ref in s["features"] if ref.startswith(v + ":")]
            for v in s["feature_views"]}} for s in services],
    }
    # its own process group: feast serve is a gunicorn master and its worker
    proc = subprocess.Popen([str(feast_python()), str(CLIENT_DIR / "feast_server.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(spec))
    proc.stdin.close()
    url = f"http://127.0.0.1:{spec['port']}"
    try:
        deadline = time.monotonic() + 120
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                pytest.fail(f"feast serve did not start: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGINT (gunicorn's quick shutdown; SIGTERM waits out a 30 s graceful timeout) to the
    server's process group, SIGKILL if it is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _columns(body: dict[str, Any]) -> dict[str, Any]:
    """A success body by column name (Feast orders a view's features by a set's iteration)."""
    names = body["metadata"]["feature_names"]
    return {"columns": {n: r for n, r in zip(names, body["results"], strict=True)},
            "views": [m["name"] for m in body["metadata"].get("feature_view_metadata", [])]}


@pytest.mark.slow
def test_side_by_side_with_feast_serve(server: str, feast_server: str) -> None:
    """The same requests to ``feast serve`` and to sparkfs holding the same rows: the same
    answers (by column; entity columns first, in request order), the same exception classes."""
    pairs = {"user_id": [1, 2, 999], "merchant_id": [501, 502, 999]}
    same = [
        {"features": ["user_profile:age", "user_profile:country", "user_profile:is_premium"],
         "entities": {"user_id": [1, 2, 999]}},
        {"features": SEVERAL, "entities": pairs},
        {"features": SEVERAL, "entities": pairs, "full_feature_names": True},
        {"feature_service": "fraud_model", "entities": pairs, "full_feature_names": True},
        {"feature_service": "fraud_model", "features": [], "entities": pairs,
         "full_feature_names": True},
        {"features": ["user_profile:age"], "entities": {"user_id": ["1", 2.0]}},
        {"features": ["user_profile:age"], "entities": {"merchant_id": [501], "user_id": [1]}},
        {"features": SEVERAL, "entities": pairs, "include_feature_view_version_metadata": True},
    ]
    for body in same:
        ours = httpx.post(server + "/get-online-features", json=body,
                          headers={"Authorization": "Bearer k-all"})
        theirs = httpx.post(feast_server + "/get-online-features", json=body)
        assert ours.status_code == theirs.status_code == 200, (body, ours.text, theirs.text)
        assert _columns(ours.json()) == _columns(theirs.json()), body
        keys = len(body["entities"])
        assert (ours.json()["metadata"]["feature_names"][:keys]
                == theirs.json()["metadata"]["feature_names"][:keys] == list(body["entities"]))
    errors = [
        ({"feature_service": "fraud_model", "entities": pairs}, "FeatureNameCollisionError"),
        ({"features": ["nope:age"], "entities": {"user_id": [1]}}, "FeatureViewNotFoundException"),
        ({"feature_service": "nope", "entities": {"user_id": [1]}},
         "FeatureServiceNotFoundException"),
    ]
    for body, feast_class in errors:
        ours = httpx.post(server + "/get-online-features", json=body,
                          headers={"Authorization": "Bearer k-all"})
        theirs = httpx.post(feast_server + "/get-online-features", json=body)
        assert json.loads(ours.json())["class"] == json.loads(theirs.json())["class"] == feast_class
