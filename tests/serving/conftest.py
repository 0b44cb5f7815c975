"""Fixtures of the serving suite: a small applied project, data published to a real
redis-server through the online package's writer, and the ASGI app with its lifespan run."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sparkfs.config import SparkfsConfig, load_config
from sparkfs.online.generations import Generations
from sparkfs.online.layout import EntityKeyCodec, ValueCodec, data_prefix, datetime_to_us
from sparkfs.online.topology import make_client
from sparkfs.online.view import OnlineView
from sparkfs.online.writer import BulkWriter, WriteMode
from sparkfs.pipeline.workspace import Workspace
from sparkfs.serving.app import create_app

FEATURES = """
entities:
  - {name: user, join_keys: [{name: user_id, type: int64}]}
  - name: card
    join_keys: [{name: bin, type: string}, {name: last4, type: string}]
feature_views:
  - name: users
    entities: [user]
    source: {type: delta, path: x/users}
    timestamp_column: ts
    features:
      - {name: age, type: int32}
      - {name: country, type: string}
      - {name: score, type: float64}
      - {name: premium, type: bool}
    ttl: 1h
    owner: team@example.com
    description: user attributes
  - name: clicks
    entities: [user]
    source: {type: delta, path: x/clicks}
    timestamp_column: ts
    features:
      - {name: clicks, type: int64}
    owner: team@example.com
  - name: cards
    entities: [card]
    source: {type: delta, path: x/cards}
    timestamp_column: ts
    features:
      - {name: label, type: string}
    owner: team@example.com
  - name: offline_only
    entities: [user]
    source: {type: delta, path: x/off}
    timestamp_column: ts
    features:
      - {name: secret, type: int64}
    owner: team@example.com
    online: false
feature_services:
  - {name: fraud, features: ["users:age", "users:score", "clicks:*"]}
  - {name: cards_svc, features: ["cards:label"]}
"""


@dataclass
class Project:
    root: Path
    config: SparkfsConfig
    workspace: Workspace

    def view(self, name: str) -> OnlineView:
        from sparkfs.pipeline.serving_catalog import CatalogSource

        source = CatalogSource(self.workspace)
        source.refresh()
        return source.catalog.view(name).online


def write_project(root: Path, redis_url: str, serving: str = "") -> SparkfsConfig:
    (root / "conf" / "features").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "features" / "all.yaml").write_text(FEATURES)
    cfg = root / "conf" / "sparkfs.yaml"
    cfg.write_text(f"""project: servetest
registry: {{url: "sqlite:///../registry.db"}}
online: {{type: redis, url: "{redis_url}", namespace: sfs}}
serving:
  registry_refresh_s: 0.2
  redis_timeout_s: 0.5
  max_entities: 100
{serving}""")
    return load_config(cfg)


def open_project(root: Path, redis_url: str, serving: str = "") -> Project:
    config = write_project(root, redis_url, serving)
    workspace = Workspace.open(config, user="tester")
    workspace.definitions.apply(workspace.repository, user="tester")
    return Project(root, config, workspace)


def publish(config: SparkfsConfig, view: OnlineView,
            rows: dict[tuple[Any, ...], tuple[datetime, list[Any]]],
            expire_late: bool = False) -> int:
    """Write a full generation of ``view`` and publish it, as a full-refresh sync does.

    ``expire_late`` keeps keys in Redis for a day whatever their ttl, as when Redis' expiry
    lags the serving clock: the reader must then answer OUTSIDE_MAX_AGE itself.
    """
    online = config.online
    gens = Generations(make_client(online), online.namespace)
    gen = gens.begin(view.name, view.version)
    prefix = data_prefix(online.namespace, view.name, view.version, gen)
    keys, values = EntityKeyCodec(view), ValueCodec(view)
    now_ms = int(time.time() * 1000)
    writer = BulkWriter(online, now_ms=now_ms - (86_400_000 if expire_late else 0),
                        ttl_ms=view.ttl_ms)
    expiry = [now_ms + 86_400_000 if expire_late else
              datetime_to_us(ev) // 1000 + (view.ttl_ms or 10**9) for ev, _ in rows.values()]
    writer.write(WriteMode.FRESH, [prefix + keys.encode(k) for k in rows],
                 [values.encode(datetime_to_us(ev), 0, vals) for ev, vals in rows.values()],
                 expiry)
    writer.close()
    gens.publish(view.name, view.version, gen)
    return gen


NOW = datetime.now(UTC).replace(microsecond=0)


def seed(project: Project) -> None:
    """users 1..3 (3 is older than the 1h ttl), clicks 1..2, one card."""
    publish(project.config, project.view("users"), {
        (1,): (NOW - timedelta(minutes=5), [31, "FR", 0.5, True]),
        (2,): (NOW - timedelta(minutes=10), [None, "DE", float("nan"), False]),
        (3,): (NOW - timedelta(hours=2), [50, "US", 1.0, False]),
    }, expire_late=True)
    publish(project.config, project.view("clicks"), {
        (1,): (NOW - timedelta(days=3), [7]), (2,): (NOW, [0])})
    publish(project.config, project.view("cards"), {("4111", "1234"): (NOW, ["gold"])})


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture()
def project(tmp_path: Path, redis_url: str) -> Project:
    proj = open_project(tmp_path, redis_url)
    seed(proj)
    return proj


@pytest.fixture()
async def client(project: Project) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(project.config, project.workspace) as c:
        yield c


class app_client:
    """An httpx client on the ASGI app with its lifespan run (startup and shutdown)."""

    def __init__(self, config: SparkfsConfig, workspace: Workspace | None = None) -> None:
        self.app = create_app(config, workspace=workspace)

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                         base_url="http://test")
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


@pytest.fixture()
def sync_client(project: Project) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(create_app(project.config, workspace=project.workspace)) as c:
        yield c


@contextlib.contextmanager
def serve_subprocess(project: Project) -> Iterator[str]:
    """Run ``sparkfs serve`` (uvicorn, one worker) on a free port; yields its base URL."""
    from tests.portal.server import serve

    with serve(project.config.config_path, project.root) as url:
        yield url
