"""Drive Feast's own client against a feature server and print what it saw, as JSON.

Run by the Feast virtualenv's python (``tests/feast_client_env.py``), never imported by the
tests: Feast's pins clash with sparkfs's. Standard library and Feast only.

stdin::

    {"url": "http://127.0.0.1:PORT", "work_dir": "...",
     "clients": [{"token": "key or null",
                  "cases": [{"name": "...", "features": [...] or null,
                             "feature_service": "name" or null,
                             "entity_rows": [{...}] or {"key": [...]},
                             "full_feature_names": false,
                             "include_feature_view_version_metadata": false}]}]}

stdout: ``{case name: outcome}``, where an outcome is either
``{"values": OnlineResponse.to_dict(), "feature_names": [...], "statuses": {name: [...]},
"feature_view_metadata": [{"name", "version"}], "warnings": [...]}`` or
``{"error": {"class": "module.Class", "feast_error": bool, "message": str}, "warnings": [...]}``;
``warnings`` holds what Feast logged at WARNING or above (e.g. "Invalid error detail").
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from feast import FeatureService, FeatureStore
from feast.errors import FeastError
from feast.permissions.client.http_auth_requests_wrapper import HttpSessionManager
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("feast"):
            self.messages.append(record.getMessage())


def store_for(url: str, directory: Path, token: str | None) -> FeatureStore:
    """A Feast repository whose online store is the remote server (nothing else is used)."""
    directory.mkdir(parents=True, exist_ok=True)
    auth = f"auth: {{type: kubernetes, user_token: {json.dumps(token)}}}\n" if token else ""
    (directory / "feature_store.yaml").write_text(
        "project: sparkfs_compat\nprovider: local\n"
        f"registry: {json.dumps(str(directory / 'registry.db'))}\n"
        f"online_store: {{type: remote, path: {json.dumps(url)}, connection_retries: 0}}\n"
        f"entity_key_serialization_version: 3\n{auth}")
    return FeatureStore(repo_path=str(directory))


def run_case(store: FeatureStore, case: dict[str, Any]) -> dict[str, Any]:
    # Feast's client sends only a service's name; the service needs no registry entry here
    features: Any = (FeatureService(name=case["feature_service"], features=[])
                     if case.get("feature_service") else case["features"])
    try:
        response = store.get_online_features(
            features=features, entity_rows=case["entity_rows"],
            full_feature_names=case.get("full_feature_names", False),
            include_feature_view_version_metadata=case.get(
                "include_feature_view_version_metadata", False))
    except Exception as exc:  # any class: which one is what the test checks
        return {"error": {"class": f"{type(exc).__module__}.{type(exc).__name__}",
                          "feast_error": isinstance(exc, FeastError), "message": str(exc)}}
    proto = response.proto
    names = list(proto.metadata.feature_names.val)
    return {
        "values": response.to_dict(),
        "feature_names": names,
        "statuses": {name: [FieldStatus.Name(s) for s in vector.statuses]
                     for name, vector in zip(names, proto.results, strict=True)},
        "feature_view_metadata": [{"name": m.name, "version": m.version}
                                  for m in proto.metadata.feature_view_metadata],
    }


def main() -> None:
    request = json.load(sys.stdin)
    recorder = Recorder()
    logging.getLogger().addHandler(recorder)
    out: dict[str, Any] = {}
    for i, client in enumerate(request["clients"]):
        HttpSessionManager.close_session()  # one session per token
        store = store_for(request["url"], Path(request["work_dir"]) / f"client{i}",
                          client.get("token"))
        for case in client["cases"]:
            recorder.messages.clear()
            out[case["name"]] = {**run_case(store, case), "warnings": list(recorder.messages)}
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
