"""What the dashboard reads and starts, over HTTP against the real server and hub: the page and its
assets, the whole home, history, recent events, scan, cloud sync, and the Postman export run by newman."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import BULB, CLOUD_CLIENT_SECRET, PLUG, Gateway, GatewayFactory, HomeFactory
from tuyagate.gateway import web_ui
from tuyagate.sim.device import SimDevice

pytestmark = pytest.mark.asyncio(loop_scope="module")

NEWMAN = Path(__file__).resolve().parents[2] / "dashboard" / "node_modules" / ".bin" / "newman"


async def until(check: Any, within: float = 5.0) -> Any:
    """Poll ``check()`` until it returns something truthy, by a deadline."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("not within the deadline")
        await asyncio.sleep(0.05)


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_browsers_get_the_page_and_api_clients_the_index(gateway: Gateway) -> None:
    page = await gateway.client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "http" not in csp
    assert page.headers["cache-control"] == "no-cache"
    index = await gateway.client.get("/", headers={"Accept": "*/*"})
    assert index.json()["api"] == "/api/v1/devices"
    assert index.json()["dashboard"] == "/dashboard"
    assert (await gateway.client.get("/dashboard")).headers["content-type"].startswith("text/html")


async def test_assets_are_hashed_cached_and_gzipped(gateway: Gateway) -> None:
    info = json.loads((web_ui.ASSETS_DIR / "build-info.json").read_text())
    entry = info["entry"]
    answer = await gateway.client.get(f"/ui/{entry}", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert "immutable" in answer.headers["cache-control"]
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.content == (web_ui.ASSETS_DIR / entry).read_bytes()  # httpx decompressed it
    again = await gateway.client.get(f"/ui/{entry}", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
    for bad in ("/ui/nothing.js", "/ui/index.html", "/ui/..%2Fapp.py"):
        assert (await gateway.client.get(bad)).status_code == 404


async def test_the_whole_home_in_one_answer(gateway: Gateway) -> None:
    answer = (await gateway.client.get("/api/v1/home")).json()
    devices = {d["name"]: d for d in answer["devices"]}
    assert len(devices) == len(gateway.home.hub.devices())
    plug = devices[PLUG]
    schema = answer["schemas"][plug["schema"]]
    assert {"switch_1", "cur_power"} <= {dp["code"] for dp in schema}
    assert plug["state"]["values"]["switch_1"] in (True, False)
    assert plug["routes"][0]["name"] == "lan"
    # Plugs of one product share one schema in the answer.
    plugs = [d for d in answer["devices"] if d["product_name"] == plug["product_name"]]
    assert len(plugs) > 1
    assert len({d["schema"] for d in plugs}) == 1
    assert answer["gateway"]["history"] is True


async def test_a_pushed_power_value_is_in_the_history_at_once(gateway: Gateway) -> None:
    plug = gateway.home.id(PLUG)
    await gateway.home.sim(PLUG).set_dps({"19": 1234})

    async def found() -> list[list[float]] | None:
        got = await gateway.client.get(f"/api/v1/devices/{plug}/history", params={"code": "cur_power"})
        points = got.json()["points"]
        return points if points and points[-1][1] == 123.4 else None

    points = await until(found)
    assert abs(points[-1][0] - time.time()) < 60
    codes = {d["name"]: d["history"] for d in (await gateway.client.get("/api/v1/home")).json()["devices"]}
    assert "cur_power" in codes[PLUG]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Field required"),
        ({"code": "cur_power", "since": "soon"}, "number"),
        ({"code": "x", "limit": "1"}, "between"),
    ],
)
async def test_bad_history_queries_are_refused(gateway: Gateway, params: dict[str, str], message: str) -> None:
    answer = await gateway.client.get(f"/api/v1/devices/{gateway.home.id(PLUG)}/history", params=params)
    assert answer.status_code == 422
    assert message in json.dumps(answer.json())
    assert (await gateway.client.get("/api/v1/devices/nope/history", params={"code": "x"})).status_code == 404


async def test_recent_events_of_a_device(gateway: Gateway) -> None:
    bulb = gateway.home.id(BULB)
    await gateway.home.sim(BULB).set_dps({"22": 321})

    async def found() -> list[dict[str, Any]] | None:
        events = (await gateway.client.get(f"/api/v1/devices/{bulb}/recent-events")).json()["events"]
        return events if any(e["values"].get("bright_value_v2") == 321 for e in events) else None

    events = await until(found)
    assert all(e["kind"] in ("state", "online", "offline") for e in events)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_scan_streams_progress_then_the_devices_found(start_gateway: GatewayFactory) -> None:
    port = _free_udp_port()
    sim = SimDevice(
        device_id="bf00scan00000000new1",
        local_key="0123456789abcdef",
        version="3.3",
        host="127.0.6.1",
        port=0,
        discovery_to=("127.0.0.1", port),
        discovery_interval=0.2,
    )
    await sim.start()
    try:
        gw = await start_gateway(scan_listen="127.0.0.1", scan_ports=str(port), scan_probe="")
        started = time.monotonic()
        answer = await gw.client.post("/api/v1/scan", json={"seconds": 1.5})
        took = time.monotonic() - started
    finally:
        await sim.stop()
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    items = lines(answer.text)
    progress = [i for i in items if i["type"] == "progress"]
    assert len(progress) >= 3
    assert progress[0]["total"] == 1.5
    assert f"UDP {port}" in progress[0]["message"]
    result = items[-1]
    assert result["type"] == "result"
    found = {d["id"]: d for d in result["scan"]["devices"]}
    assert found["bf00scan00000000new1"]["known"] is False
    assert found["bf00scan00000000new1"]["version"] == "3.3"
    assert result["scan"]["new"] >= 1
    assert 1.4 <= took < 10


async def test_one_scan_at_a_time(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway(scan_ports=str(_free_udp_port()))
    first = asyncio.create_task(gw.client.post("/api/v1/scan", json={"seconds": 1.0}))
    await asyncio.sleep(0.3)
    second = await gw.client.post("/api/v1/scan", json={"seconds": 1.0})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "busy"
    assert (await first).status_code == 200
    bad = await gw.client.post("/api/v1/scan", json={"seconds": 600})
    assert bad.status_code == 422


async def test_cloud_sync_streams_progress_and_a_report(start_home: HomeFactory, start_gateway: GatewayFactory) -> None:
    home = await start_home()
    gw = await start_gateway(home=home)
    assert (await gw.client.get("/api/v1/home")).json()["gateway"]["cloud_sync"] is True
    answer = await gw.client.post("/api/v1/cloud/sync")
    assert answer.status_code == 200
    items = lines(answer.text)
    assert items[0]["type"] == "progress"
    assert any(i["type"] == "progress" and i["message"].startswith("schema of") for i in items)
    result = items[-1]
    assert result["type"] == "result", result
    report = result["cloud_sync"]
    assert report["devices"]
    assert "summary" in report
    assert CLOUD_CLIENT_SECRET not in answer.text
    for key in home.local_keys():
        assert key not in answer.text


async def test_cloud_sync_without_a_cloud_login_is_refused(
    start_home: HomeFactory, start_gateway: GatewayFactory
) -> None:
    home = await start_home(cloud=False)
    gw = await start_gateway(home=home)
    answer = await gw.client.post("/api/v1/cloud/sync")
    assert answer.status_code == 409
    assert "cloud login" in answer.json()["error"]["message"]


async def test_the_postman_export_holds_no_secret(gateway: Gateway) -> None:
    answer = (await gateway.client.get("/api/v1/postman")).json()
    text = json.dumps(answer)
    assert CLOUD_CLIENT_SECRET not in text
    env = {v["key"]: v["value"] for v in answer["environment"]["values"]}
    assert env["baseUrl"] == gateway.url
    assert env["client_secret"] == ""
    assert env["token"] == ""
    assert env["device_id"]
    folders = [f["name"] for f in answer["collection"]["item"]]
    assert folders == ["Native API", "Tuya-cloud-compatible API"]


@pytest.mark.skipif(not NEWMAN.exists(), reason="newman is not installed: run dashboard/build.sh (./run does)")
async def test_newman_runs_the_postman_collection_against_the_gateway(gateway: Gateway, tmp_path: Path) -> None:
    """Postman's own runner executes both folders; the cloud-compatible one is signed by the pre-request script."""
    export = (await gateway.client.get("/api/v1/postman")).json()
    env = {v["key"]: v["value"] for v in export["environment"]["values"]}
    sent = json.loads(export["collection"]["item"][1]["item"][4]["request"]["body"]["raw"])["commands"][0]
    off = {"commands": [{"code": sent["code"], "value": False}]}
    assert (await gateway.client.post(f"/api/v1/devices/{env['device_id']}/commands", json=off)).is_success
    (tmp_path / "collection.json").write_text(json.dumps(export["collection"]))
    (tmp_path / "environment.json").write_text(json.dumps(export["environment"]))
    node = shutil.which("node")
    assert node is not None
    process = await asyncio.create_subprocess_exec(
        str(NEWMAN),
        "run",
        str(tmp_path / "collection.json"),
        "-e",
        str(tmp_path / "environment.json"),
        "--env-var",
        f"client_secret={CLOUD_CLIENT_SECRET}",
        "--reporters",
        "json",
        "--reporter-json-export",
        str(tmp_path / "report.json"),
        "--timeout-request",
        "15000",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    report = json.loads((tmp_path / "report.json").read_text())
    run = report["run"]
    failures = [(f["source"].get("name"), f["error"].get("message")) for f in run["failures"]]
    assert process.returncode == 0, (failures, output.decode()[-2000:])
    # 11 requests of the collection, and the access token the pre-request script fetched itself.
    assert run["stats"]["requests"]["total"] == 12
    assert run["stats"]["requests"]["failed"] == 0
    assert run["stats"]["assertions"]["total"] == 11
    assert run["stats"]["assertions"]["failed"] == 0
    # "Send commands" switched the example device on again; the device says so.
    state = await gateway.client.get(f"/api/v1/devices/{env['device_id']}/status", params={"refresh": "true"})
    assert state.json()["values"][sent["code"]] is True


async def test_docs_load_nothing_from_another_origin(gateway: Gateway) -> None:
    page = (await gateway.client.get("/docs")).text
    assert "http://" not in page.replace(gateway.url, ""), page[:500]
    assert "https://" not in page, page[:500]
    assert "/docs-assets/" in page
    bundle = await gateway.client.get("/docs-assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 100_000
