"""Lookups take their time from the serving clock: values change at their change points with
no new sync, and a test moves the clock instead of sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sparkfs.online.generations import Generations
from sparkfs.online.layout import EntityKeyCodec, ValueCodec, data_prefix, datetime_to_us
from sparkfs.online.topology import make_client
from sparkfs.online.writer import BulkWriter, WriteMode
from sparkfs.serving.app import create_app
from tests.serving.conftest import NOW, open_project

pytestmark = pytest.mark.anyio


async def test_a_lookup_answers_at_the_clock_time(tmp_path: Path, redis_url: str) -> None:
    project = open_project(tmp_path, redis_url)
    view = project.view("clicks")  # no ttl
    online = project.config.online
    gens = Generations(make_client(online), online.namespace)
    gen = gens.begin(view.name, view.version)
    key = data_prefix(online.namespace, view.name, view.version, gen) + \
        EntityKeyCodec(view).encode((1,))
    # user 1: 7 clicks since an hour ago, 0 from an hour from now (an event leaves its window)
    value = ValueCodec(view).encode_points([(datetime_to_us(NOW - timedelta(hours=1)), 0, [7]),
                                            (datetime_to_us(NOW + timedelta(hours=1)), 0, [0])])
    writer = BulkWriter(online, now_ms=datetime_to_us(NOW) // 1000, ttl_ms=0)
    writer.write(WriteMode.FRESH, [key], [value])
    writer.close()
    gens.publish(view.name, view.version, gen)

    clock = [NOW]
    app = create_app(project.config, workspace=project.workspace, clock=lambda: clock[0])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def clicks(at: datetime) -> tuple[object, object]:
                clock[0] = at
                resp = await client.post("/v1/features:lookup", json={
                    "features": ["clicks:clicks"], "entities": {"user_id": [1]}})
                assert resp.status_code == 200, resp.text
                cell = resp.json()["rows"][0]["features"]["clicks:clicks"]
                return cell["value"], cell["event_time"]

            assert (await clicks(NOW))[0] == 7
            assert (await clicks(NOW + timedelta(minutes=59)))[0] == 7
            value_, stamp = await clicks(NOW + timedelta(hours=1))
            assert value_ == 0 and stamp.startswith((NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H"))
            # before the first stored point (a clock behind the sync): nothing to serve
            cell = await clicks(NOW - timedelta(hours=2))
            assert cell == (None, None)
