"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against the real gateway and hub
over the emulated home.

No browser is downloaded: Playwright drives ``/usr/bin/chromium`` (apt package ``chromium``, which
``./run`` installs). Every page is opened with a request filter that fails the test on any request
leaving the gateway's origin. Screenshots go to ``test-artifacts/`` (git-ignored); the README's
images in docs/images/ were taken from them once.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from tests.gateway.conftest import BULB, PLUG, Gateway, GatewayFactory, LiveHome, make_settings
from tuyagate.device_api import DeviceEvent
from tuyagate.gateway.app import create_app
from tuyagate.gateway.auth import create_token
from tuyagate.gateway.server import serve_app
from tuyagate.sim.device import SimDevice

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

if not CHROMIUM.exists():  # CI must run these: there a missing browser fails loudly
    if os.environ.get("CI"):
        raise RuntimeError("the browser tests need Debian's Chromium: apt-get install -y chromium (./run does it)")
    pytest.skip("no /usr/bin/chromium: apt-get install -y chromium (./run installs it)", allow_module_level=True)

from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")
LIGHT, THERMOSTAT, CURTAIN = BULB, "Office thermostat", "Bedroom curtain"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Tab:
    page: Page
    context: BrowserContext
    origin: str
    foreign: list[str] = field(default_factory=list)  # requests that tried to leave the origin
    errors: list[str] = field(default_factory=list)  # script errors and console errors


async def open_tab(browser: Browser, gw: Gateway, path: str = "/", *, ready: bool = True, **context: Any) -> Tab:
    ctx = await browser.new_context(**context)
    origin = gw.url
    tab = Tab(await ctx.new_page(), ctx, origin)

    async def guard(route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != origin:
            tab.foreign.append(url)
            await route.abort()
        else:
            await route.continue_()

    await ctx.route("**/*", guard)
    tab.page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))
    tab.page.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
    await tab.page.goto(origin + path)
    if ready and (path in ("/", "/dashboard") or path.startswith("/#")):
        await tab.page.wait_for_selector("html[data-ready]", timeout=10_000)
    return tab


@pytest_asyncio.fixture(loop_scope="module")
async def tabs(browser: Browser) -> AsyncIterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        await tab.context.close()
        assert tab.foreign == [], f"requests left the gateway's origin: {tab.foreign}"


async def status(gw: Gateway, name: str) -> dict[str, Any]:
    answer = await gw.client.get(f"/api/v1/devices/{gw.home.id(name)}/status", params={"refresh": "true"})
    values: dict[str, Any] = answer.json()["values"]
    return values


async def until(check: Any, within: float = 5.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("not within the deadline")
        await asyncio.sleep(0.05)


def card(tab: Tab, name: str) -> Any:
    return tab.page.get_by_role("article", name=name, exact=True)


async def test_the_page_lists_every_device(browser: Browser, gateway: Gateway, tabs: list[Tab]) -> None:
    tab = await open_tab(browser, gateway)
    tabs.append(tab)
    names = [d.info.name for d in gateway.home.hub.devices()]
    assert await tab.page.get_by_role("article").count() == len(names)
    for name in names:
        await expect(card(tab, name)).to_be_visible()
    await expect(tab.page.locator("#connection")).to_have_text("live")
    plug = card(tab, PLUG)
    await expect(plug).to_contain_text("tuya-lan")
    await expect(plug).to_contain_text("LAN")
    await expect(plug).to_contain_text("v3.3")
    await expect(plug).to_contain_text("online")
    assert tab.errors == []


async def test_toggling_the_desk_plug_switches_the_device(browser: Browser, gateway: Gateway, tabs: list[Tab]) -> None:
    tab = await open_tab(browser, gateway)
    tabs.append(tab)
    before = (await status(gateway, PLUG))["switch_1"]
    switch = card(tab, PLUG).get_by_role("switch", name="Switch 1 (switch_1)")
    await expect(switch).to_have_attribute("aria-checked", str(before).lower())
    await switch.click()

    async def flipped() -> bool:
        return bool((await status(gateway, PLUG))["switch_1"] is (not before))

    await until(flipped)
    await expect(switch).to_have_attribute("aria-checked", str(not before).lower())


async def test_a_pushed_change_appears_without_a_reload_within_a_second(
    browser: Browser, gateway: Gateway, tabs: list[Tab]
) -> None:
    tab = await open_tab(browser, gateway)
    tabs.append(tab)
    await expect(tab.page.locator("#connection")).to_have_text("live")
    await gateway.home.sim(PLUG).set_dps({"19": 777})  # the device reports 77.7 W on its own
    power = card(tab, PLUG).locator('[data-code="cur_power"] output')
    await expect(power).to_have_text("77.7 W", timeout=1000)


async def test_a_slider_on_the_dimmable_light_lands_within_its_range(
    browser: Browser, gateway: Gateway, tabs: list[Tab]
) -> None:
    tab = await open_tab(browser, gateway)
    tabs.append(tab)
    slider = card(tab, LIGHT).get_by_role("slider", name="Brightness (bright_value_v2)")
    await expect(slider).to_have_attribute("min", "10")
    await expect(slider).to_have_attribute("max", "1000")
    await slider.focus()
    await tab.page.keyboard.press("End")  # keyboard: to the top of the range

    async def at(value: int) -> bool:
        return bool((await status(gateway, LIGHT))["bright_value_v2"] == value)

    await until(lambda: at(1000))
    await slider.focus()
    await tab.page.keyboard.press("Home")
    await until(lambda: at(10))
    await slider.fill("437")  # a drag's end value
    await until(lambda: at(437))
    assert 10 <= (await status(gateway, LIGHT))["bright_value_v2"] <= 1000


async def test_an_out_of_range_value_is_refused_with_the_gateways_message(
    browser: Browser, gateway: Gateway, tabs: list[Tab]
) -> None:
    tab = await open_tab(browser, gateway)
    tabs.append(tab)
    before = (await status(gateway, LIGHT))["bright_value_v2"]
    light = card(tab, LIGHT)
    field = light.get_by_role("spinbutton", name="Brightness (bright_value_v2)")
    await field.fill("5000")
    await field.press("Enter")
    alert = light.get_by_role("alert")
    await expect(alert).to_contain_text("bright_value_v2 must be an integer between 10 and 1000")
    await expect(alert).to_contain_text("got 5000")
    assert (await status(gateway, LIGHT))["bright_value_v2"] == before
    await expect(field).to_have_value(str(before))  # the field shows the device's value again


async def test_controls_have_the_roles_and_names_of_their_dps(
    browser: Browser, gateway: Gateway, tabs: list[Tab]
) -> None:
    tab = await open_tab(browser, gateway)
    tabs.append(tab)
    light = card(tab, LIGHT)
    await expect(light.get_by_role("switch", name="Light (switch_led)")).to_be_visible()
    await expect(light.get_by_role("combobox", name="Mode (work_mode)")).to_have_value("white")
    await expect(light.get_by_label("Colour (colour_data_v2)")).to_have_attribute("type", "color")
    await expect(light.get_by_role("slider", name="Colour temperature (temp_value_v2)")).to_be_visible()
    target = card(tab, THERMOSTAT).get_by_role("slider", name="Target temperature (temp_set)")
    for name, value in (("min", "5"), ("max", "35"), ("step", "0.5")):
        await expect(target).to_have_attribute(name, value)
    await expect(card(tab, THERMOSTAT)).to_contain_text("°C")
    await expect(card(tab, CURTAIN).get_by_role("slider", name="Position (percent_control)")).to_be_visible()
    await expect(card(tab, PLUG).locator('[data-code="cur_voltage"] output')).to_have_text("230.1 V")
    # A colour change reaches the bulb as Tuya h/s/v within its ranges.
    await light.get_by_label("Colour (colour_data_v2)").fill("#00ff00")

    async def green() -> bool:
        colour = (await status(gateway, LIGHT))["colour_data_v2"]
        return bool(colour["h"] == 120 and colour["s"] == 1000)

    await until(green)


async def test_search_and_keyboard(browser: Browser, gateway: Gateway, tabs: list[Tab]) -> None:
    tab = await open_tab(browser, gateway)
    tabs.append(tab)
    search = tab.page.get_by_role("searchbox", name="Search devices")
    await search.fill("kettle")
    await expect(tab.page.get_by_role("article")).to_have_count(1)
    await expect(card(tab, "Kettle plug")).to_be_visible()
    await search.fill("")
    await expect(card(tab, PLUG)).to_be_visible()
    # Keyboard only: Tab moves from the search box on; Space flips a focused switch.
    await search.focus()
    await tab.page.keyboard.press("Tab")
    assert await tab.page.evaluate("document.activeElement.id") == "group-by"
    before = (await status(gateway, "Kettle plug"))["switch_1"]
    await card(tab, "Kettle plug").get_by_role("switch").focus()
    await tab.page.keyboard.press("Space")

    async def flipped() -> bool:
        return bool((await status(gateway, "Kettle plug"))["switch_1"] is (not before))

    await until(flipped)


async def test_the_history_chart_of_a_metering_plug_shows_points(
    browser: Browser, gateway: Gateway, tabs: list[Tab]
) -> None:
    history = gateway.app.state.gateway.recorder.history
    plug = gateway.home.id(PLUG)
    for watts in (150, 420, 310, 95):
        await gateway.home.sim(PLUG).set_dps({"19": watts * 10})

        async def seen(expected: float = float(watts)) -> bool:
            points = history.points(plug, "cur_power")
            return bool(points and points[-1].value == expected)

        await until(seen)
        history.flush()  # one point per flush: four changes, four points
    tab = await open_tab(browser, gateway, f"/#/device/{plug}")
    tabs.append(tab)
    chart = tab.page.locator('figure.chart[data-code="cur_power"]')
    await expect(chart.locator("canvas")).to_be_visible()
    assert int(await chart.get_attribute("data-points") or 0) >= 4
    label = await chart.get_by_role("img").get_attribute("aria-label") or ""
    assert label.startswith("Power over time: ")
    assert int(label.split(": ")[1].split()[0]) >= 4


async def test_the_device_page_shows_dps_routes_events_and_each_dialect(
    browser: Browser, gateway: Gateway, tabs: list[Tab]
) -> None:
    plug = gateway.home.id(PLUG)
    # An hour of a kettle's power draw, as the history would have recorded it (one point a minute).
    history = gateway.app.state.gateway.recorder.history
    start = time.time() - 3600
    for minute in range(60):
        watts = 1800.0 if 20 <= minute < 26 or 41 <= minute < 45 else 2.0 + (minute % 7) * 0.4
        history.record(DeviceEvent(plug, "state", values={"add_ele": 1.0 + minute / 100}, at=start + minute * 60))
        history.record(DeviceEvent(plug, "state", values={"cur_power": watts}, at=start + minute * 60))
        history.flush()
    await gateway.home.sim(PLUG).set_dps({"20": 2290})
    tab = await open_tab(browser, gateway, f"/#/device/{plug}", viewport={"width": 1280, "height": 900})
    tabs.append(tab)
    page = tab.page
    await expect(page.get_by_role("heading", name=PLUG, level=1)).to_be_visible()
    dps = page.get_by_role("region", name="Data points")
    await expect(dps.get_by_role("row", name="20 cur_voltage Integer (read-only) 2290")).to_be_visible()
    await expect(page.get_by_role("region", name="Routes").get_by_role("row", name="lan healthy")).to_be_visible()
    await expect(page.get_by_role("region", name="Recent events")).to_contain_text("Voltage 229.0 V")
    dialects = page.get_by_role("region", name="The same request in each API")
    await expect(dialects).to_contain_text(f"{gateway.url}/api/v1/devices/{plug}/commands")
    await expect(dialects).to_contain_text(f"/tasmota/{plug}/cm?cmnd=Power%20Toggle")
    await expect(dialects).to_contain_text(f"/v1.0/iot-03/devices/{plug}/commands")
    await gateway.home.sim(PLUG).set_dps({"19": 1111})
    await expect(page.get_by_role("region", name="Recent events")).to_contain_text("Power 111.1 W")
    energy = page.locator('figure.chart[data-code="add_ele"]')
    await expect(energy.locator("canvas")).to_be_visible()
    assert int(await energy.get_attribute("data-points") or 0) >= 60
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-device.png"), full_page=True)


async def test_main_page_screenshots_desktop_and_phone(browser: Browser, gateway: Gateway, tabs: list[Tab]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    desktop = await open_tab(browser, gateway, viewport={"width": 1280, "height": 900})
    tabs.append(desktop)
    await desktop.page.screenshot(path=str(ARTIFACTS / "dashboard-main.png"), full_page=False)
    phone = await open_tab(browser, gateway, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    tabs.append(phone)
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert await phone.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = await card(phone, PLUG).bounding_box()
    assert box is not None
    assert box["width"] <= 390
    await phone.page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=False)
    before = (await status(gateway, PLUG))["switch_1"]
    await card(phone, PLUG).get_by_role("switch").tap()  # a finger works too

    async def flipped() -> bool:
        return bool((await status(gateway, PLUG))["switch_1"] is (not before))

    await until(flipped)


async def test_docs_render_their_operations_offline(browser: Browser, gateway: Gateway, tabs: list[Tab]) -> None:
    tab = await open_tab(browser, gateway, "/docs")
    tabs.append(tab)
    await expect(tab.page.locator(".opblock").first).to_be_visible(timeout=10_000)
    assert await tab.page.locator(".opblock").count() > 20
    await expect(tab.page.get_by_text("/api/v1/devices/{device_id}/commands").first).to_be_visible()
    # Trying an operation works too (a request to the gateway itself).
    operation = tab.page.locator("#operations-devices-list_devices_api_v1_devices_get")
    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    await operation.get_by_role("button", name="Execute").click()
    await expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")


async def test_no_page_requests_anything_from_another_origin(
    browser: Browser, gateway: Gateway, tabs: list[Tab]
) -> None:
    plug = gateway.home.id(PLUG)
    history = gateway.app.state.gateway.recorder.history
    await gateway.home.sim(PLUG).set_dps({"19": 5550})  # so the device page draws a chart (uPlot's chunk)

    async def recorded() -> bool:
        points = history.points(plug, "cur_power")
        return bool(points and points[-1].value == 555.0)

    await until(recorded)
    requested: list[str] = []
    # Each page with what shows it has loaded everything it loads (the dashboard keeps its event
    # stream open, so "network idle" never comes).
    ready = {
        "/": "html[data-connection=live]",
        f"/#/device/{plug}": "figure.chart canvas",
        "/dashboard": "html[data-connection=live]",
        "/docs": ".opblock",
    }
    for path, selector in ready.items():
        tab = await open_tab(browser, gateway, path)
        tabs.append(tab)
        tab.page.on("request", lambda r: requested.append(r.url))
        for _ in range(2):  # and once more from the browser's cache
            await tab.page.locator(selector).first.wait_for(timeout=10_000)
            await tab.page.reload()
        assert tab.foreign == [], f"{path} requested {tab.foreign}"
        assert not [e for e in tab.errors if "Content Security Policy" in e], tab.errors
    # The home is read once per load: the page's preload of /api/v1/home is the answer its script uses.
    homes = [url for url in requested if url.endswith("/api/v1/home")]
    assert len(homes) == 6, homes  # two reloads (seen here) of each of the three dashboard pages
    assert any("/ui/" in url for url in requested)
    assert any("/docs-assets/" in url for url in requested)


async def test_a_token_prompt_when_the_gateway_requires_tokens(
    browser: Browser, start_gateway: GatewayFactory, tabs: list[Tab]
) -> None:
    gw = await start_gateway(auth="on")
    _, token = create_token(gw.app.state.gateway.tokens, "browser-test", "control")
    tab = await open_tab(browser, gw, "/", ready=False, viewport={"width": 1000, "height": 800})
    tabs.append(tab)
    dialog = tab.page.get_by_role("dialog", name="API token needed")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("an API token is required")
    await dialog.get_by_label("API token").fill(token)
    await dialog.get_by_role("button", name="Use token").click()
    await tab.page.wait_for_selector("html[data-ready]")
    await expect(card(tab, PLUG)).to_be_visible()
    await expect(tab.page.locator("#connection")).to_have_text("live")
    assert await tab.page.evaluate("sessionStorage.getItem('tuyagate.token')") == token
    assert await tab.page.evaluate("localStorage.length === 0 || localStorage.getItem('tuyagate.token') === null")
    before = (await status_with(gw, PLUG, token))["switch_1"]
    await card(tab, PLUG).get_by_role("switch").click()

    async def flipped() -> bool:
        return bool((await status_with(gw, PLUG, token))["switch_1"] is (not before))

    await until(flipped)


async def status_with(gw: Gateway, name: str, token: str) -> dict[str, Any]:
    answer = await gw.client.get(
        f"/api/v1/devices/{gw.home.id(name)}/status",
        params={"refresh": "true"},
        headers={"Authorization": f"Bearer {token}"},
    )
    values: dict[str, Any] = answer.json()["values"]
    return values


async def test_the_live_stream_resumes_after_a_gateway_restart(
    browser: Browser, home: LiveHome, tmp_path: Path, tabs: list[Tab]
) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings, home.hub, manage_manager=False)
    first = await serve_app(app, "127.0.0.1", 0)
    client = httpx.AsyncClient(base_url=first.url)
    gw = Gateway(first.url, app, first, home, client, settings)
    second = None
    try:
        tab = await open_tab(browser, gw)
        tabs.append(tab)
        await expect(tab.page.locator("#connection")).to_have_text("live")
        await first.stop()
        await expect(tab.page.locator("html")).to_have_attribute("data-connection", "retrying", timeout=5000)
        await expect(tab.page.locator("#connection")).to_contain_text("retrying")
        await home.sim(PLUG).set_dps({"19": 3333})  # a change nobody could stream: re-read on reconnect
        second = await serve_app(create_app(settings, home.hub, manage_manager=False), "127.0.0.1", first.port)
        await expect(tab.page.locator("#connection")).to_have_text("live", timeout=10_000)
        await expect(card(tab, PLUG).locator('[data-code="cur_power"] output')).to_have_text("333.3 W")
        await home.sim(PLUG).set_dps({"19": 4242})
        await expect(card(tab, PLUG).locator('[data-code="cur_power"] output')).to_have_text("424.2 W", timeout=2000)
    finally:
        await client.aclose()
        if second is not None:
            await second.stop()


async def test_scan_and_postman_from_the_page(browser: Browser, start_gateway: GatewayFactory, tabs: list[Tab]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sim = SimDevice(
        device_id="bf00scan0000browser1",
        local_key="0123456789abcdef",
        version="3.4",
        host="127.0.6.2",
        port=0,
        discovery_to=("127.0.0.1", port),
        discovery_interval=0.2,
    )
    await sim.start()
    try:
        gw = await start_gateway(scan_listen="127.0.0.1", scan_ports=str(port), scan_probe="")
        tab = await open_tab(browser, gw)
        tabs.append(tab)
        await tab.page.get_by_role("button", name="Scan").click()
        dialog = tab.page.get_by_role("dialog", name="Scan for devices")
        # What the hub's discovery follower heard (this test home runs none, and the dialog says so).
        await expect(dialog).to_contain_text("does not listen for announcements")
        await dialog.get_by_label("Seconds to listen").fill("1")
        await dialog.get_by_role("button", name="Start scan").click()
        await expect(dialog.get_by_role("status")).to_contain_text(f"listening on UDP {port}")
        await expect(dialog).to_contain_text("1 found, 1 new.", timeout=10_000)
        await expect(dialog.get_by_role("row", name="bf00scan0000browser1")).to_contain_text("127.0.6.2")
        await tab.page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
    finally:
        await sim.stop()
    await tab.page.get_by_role("button", name="Postman").click()
    postman = tab.page.get_by_role("dialog", name="Postman collection")
    link = postman.get_by_role("link", name="Download tuyagate.postman_collection.json")
    async with tab.page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    collection = json.loads(await asyncio.to_thread(Path(await download.path()).read_text))
    assert [folder["name"] for folder in collection["item"]] == ["Native API", "Tuya-cloud-compatible API"]
