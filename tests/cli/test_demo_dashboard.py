"""``tuyagate demo`` opens to the dashboard, and its actions work on the emulated home (stored cloud login)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tuyagate.cli.demo import DemoWorld
from tuyagate.devices.hub import HubOptions


@pytest.fixture
async def world() -> AsyncIterator[DemoWorld]:
    demo = DemoWorld(port=0, fleet_ip="127.0.7.1", fleet_port=0, options=HubOptions(timeout=3.0, lan_timeout=1.0))
    await demo.start()
    try:
        yield demo
    finally:
        await demo.stop()


async def test_the_demo_opens_to_the_dashboard_and_syncs_from_its_cloud(world: DemoWorld) -> None:
    async with httpx.AsyncClient(base_url=world.url, timeout=20) as http:
        page = await http.get("/", headers={"Accept": "text/html"})
        assert page.headers["content-type"].startswith("text/html")
        assert '<div id="app">' in page.text
        home = (await http.get("/api/v1/home")).json()
        assert len(home["devices"]) == 15
        assert home["gateway"]["cloud_sync"] is True  # the demo stores a cloud login, as a user would
        answer = await http.post("/api/v1/cloud/sync")
        lines = [json.loads(line) for line in answer.text.splitlines() if line.strip()]
        result = lines[-1]
        assert result["type"] == "result", lines[-3:]
        report = result["cloud_sync"]
        # Every device of the emulated cloud is already in the demo's registry.
        assert report["added"] == 0
        assert report["unchanged"] + report["updated"] == len(report["devices"]) > 10
        # What the sync changed is served at once: nothing new, and only what it updated is rebuilt.
        updated = {d["id"] for d in report["devices"] if d["action"] == "updated"}
        assert (report["home"]["added"], report["home"]["removed"], report["home"]["errors"]) == ([], [], {})
        assert set(report["home"]["replaced"]) <= updated
        assert world.secret not in answer.text
    assert f"Dashboard: {world.url}/" in world.examples()
