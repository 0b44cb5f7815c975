"""Run Feast's own feature server (``feast serve``) over given rows, for side-by-side tests.

Run by the Feast virtualenv's python (``tests/feast_client_env.py``), never imported by the
tests. Builds a Feast repository (SQLite online store) with the entities, feature views and
services described on stdin, writes the rows to its online store with Feast's own
``write_to_online_store``, then serves it until killed.

stdin::

    {"dir": "...", "port": 6567,
     "entities": [{"name": "user", "join_key": "user_id", "type": "int64"}],
     "views": [{"name": "...", "entities": ["user"], "ttl_s": 86400 or null,
                "features": [{"name": "age", "type": "int32"}],
                "rows": [{"user_id": 1, "event_timestamp": "2026-...Z", "age": 31}]}],
     "services": [{"name": "...", "features": {"view": ["feature", ...]}}]}

Types are sparkfs's online types (int32, int64, float64, bool, string).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Bool, Float64, Int32, Int64, String

FEAST_TYPES = {"int32": Int32, "int64": Int64, "float64": Float64, "bool": Bool, "string": String}
VALUE_TYPES = {"int32": ValueType.INT32, "int64": ValueType.INT64, "string": ValueType.STRING}
#: pandas dtypes that hold a missing value without changing the column's type
PANDAS_TYPES = {"int32": "Int32", "int64": "Int64", "float64": "float64", "bool": "boolean",
                "string": "object"}


def build(spec: dict[str, Any]) -> FeatureStore:
    root = Path(spec["dir"])
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "feature_store.yaml").write_text(
        "project: side_by_side\nprovider: local\n"
        f"registry: {json.dumps(str(root / 'data' / 'registry.db'))}\n"
        f"online_store: {{type: sqlite, path: {json.dumps(str(root / 'data' / 'online.db'))}}}\n"
        "offline_store: {type: file}\nentity_key_serialization_version: 3\n")
    store = FeatureStore(repo_path=str(root))
    entities = {e["name"]: Entity(name=e["name"], join_keys=[e["join_key"]],
                                  value_type=VALUE_TYPES[e["type"]]) for e in spec["entities"]}
    key_types = {e["join_key"]: e["type"] for e in spec["entities"]}
    views = {}
    for view in spec["views"]:
        ttl = timedelta(seconds=view["ttl_s"]) if view.get("ttl_s") else timedelta(0)
        views[view["name"]] = FeatureView(
            name=view["name"], entities=[entities[n] for n in view["entities"]], ttl=ttl,
            schema=[Field(name=f["name"], dtype=FEAST_TYPES[f["type"]]) for f in view["features"]],
            source=FileSource(path=str(root / "data" / f"{view['name']}.parquet"),
                              timestamp_field="event_timestamp"),
            online=True)
    services = [FeatureService(name=s["name"],
                               features=[views[v][features] for v, features in s["features"].items()])
                for s in spec["services"]]
    store.apply([*entities.values(), *views.values(), *services])
    for view in spec["views"]:
        if not view["rows"]:
            continue
        frame = pd.DataFrame(view["rows"])
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
        for column, dtype in [*key_types.items(), *((f["name"], f["type"]) for f in view["features"])]:
            if column in frame:
                frame[column] = frame[column].astype(PANDAS_TYPES[dtype])
        store.write_to_online_store(view["name"], frame)
    return store


def main() -> None:
    spec = json.load(sys.stdin)
    store = build(spec)
    print("serving", flush=True)
    store.serve(host="127.0.0.1", port=int(spec["port"]), no_access_log=True, workers=1)


if __name__ == "__main__":
    main()
