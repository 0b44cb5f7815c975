"""Finding 3 of issue 21, the server's side: it refuses to start on a registry that fails
verification, and a running server that finds one keeps its last verified catalog and answers
``/readyz`` 503 until the registry verifies again."""

from __future__ import annotations

import pytest

from sparkfs.errors import TamperedRegistryError
from sparkfs.serving import runtime as runtime_module
from tests.registry.tampering import drop_triggers, raw
from tests.serving.conftest import Project, app_client

REWRITE = ("REPLACE INTO audit_log SELECT id, at, 'mallory', action, kind, name, version, outcome, "
           "comment, details, prev_hash, row_hash FROM audit_log WHERE id = 1")
LOOKUP = {"features": ["users:age"], "entities": {"user_id": [1]}}


def tamper(project: Project) -> None:
    path = project.root / "registry.db"
    drop_triggers(path)
    with raw(path) as db:
        db.execute(REWRITE)


@pytest.mark.anyio
async def test_the_server_does_not_start_on_a_tampered_registry(project: Project) -> None:
    tamper(project)
    with pytest.raises(TamperedRegistryError, match=r"the server refuses the registry: .* audit_log row 1"):
        async with app_client(project.config, project.workspace):
            pass


@pytest.mark.anyio
async def test_a_running_server_flags_tampering_and_keeps_the_verified_catalog(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    served = app_client(project.config, project.workspace)
    async with served as client:
        assert (await client.get("/readyz")).status_code == 200
        tamper(project)
        runtime = served.app.state.sparkfs
        monkeypatch.setattr(runtime_module, "VERIFY_EVERY_S", 0.0)  # re-verification is due
        assert await runtime.refresh_now() is False
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["type"] == "TamperedRegistryError"
        assert "audit_log row 1: its content does not match its hash" in ready.json()["error"]["message"]
        lookup = await client.post("/v1/features:lookup", json=LOOKUP)
        assert lookup.status_code == 200 and lookup.json()["rows"][0]["features"]["users:age"]["value"] == 31
