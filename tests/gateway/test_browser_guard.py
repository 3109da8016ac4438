"""Web pages in the user's browser cannot drive the gateway: cross-site requests and DNS rebinding."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway.conftest import PLUG, Gateway, GatewayFactory, LiveHome
from tuyagate.gateway.auth import JsonTokenStore, create_token

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_cross_site_requests_are_refused(gateway: Gateway, home: LiveHome) -> None:
    c = gateway.client
    sim = home.sim(PLUG)
    commands = sim.stats.commands
    r = await c.get(f"/tasmota/{PLUG}/cm", params={"cmnd": "Power Off"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "cross_site_request"
    r = await c.post(
        f"/api/v1/devices/{PLUG}/commands",
        content=b'{"dps":{"1":false}}',
        headers={"Origin": "https://evil.example", "Content-Type": "text/plain"},
    )
    assert r.status_code == 403
    assert sim.stats.commands == commands  # neither reached the device
    # The gateway's own pages (/docs) are same-origin and keep working.
    own = gateway.url
    r = await c.post(
        f"/api/v1/devices/{PLUG}/commands",
        json={"dps": {"1": False}},
        headers={"Origin": own, "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 200


async def test_dns_rebinding_host_is_refused_without_tokens(gateway: Gateway) -> None:
    r = await gateway.client.get("/api/v1/devices", headers={"Host": "rebind.evil.example"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "host_not_allowed"
    for host in ("localhost", f"127.0.0.1:{gateway.served.port}", "[::1]:80"):
        assert (await gateway.client.get("/api/v1/devices", headers={"Host": host})).status_code == 200
    metrics = (await gateway.client.get("/metrics")).text
    assert 'route="/api/v1/devices",status="403"' in metrics  # labelled by the route it asked for


async def test_other_host_names_work_with_a_token(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    _, token = create_token(JsonTokenStore(tmp_path / "api-tokens.json"), "proxy", "read")
    gw = await start_gateway()
    headers = {"Host": "gateway.home.example", "Authorization": f"Bearer {token}"}
    assert (await gw.client.get("/api/v1/devices", headers=headers)).status_code == 200
