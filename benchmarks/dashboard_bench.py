"""The dashboard's speed in Debian's Chromium: first load of a 200-device home, asset sizes, push-to-page latency.

A fleet of emulated devices (plugs, lights, switches, covers, thermostats, ... round-robin) speaks the
Tuya LAN protocol on 127.0.9.x; the real hub (``tuyagate.open_home`` on a registry of them) and the
gateway serve them on loopback; Playwright drives ``/usr/bin/chromium`` (headless). Measured:

- **first load**: navigation start to interactive: every device is listed and the cards on screen
  have working controls (the ``tuyagate-ready`` performance mark; the other cards get theirs in
  slices of at most 8 ms, so input is answered meanwhile: ``complete`` says when the last one
  did), in a fresh browser context each time (nothing cached) and again with the assets cached;
- **assets**: bytes on the wire (gzip) of the page, its script and its styles in a cold load, and
  of every shipped asset (the chart code loads only on device pages);
- **push to page**: an emulated device pushes a new power value (a STATUS frame over TCP); the time
  until the page's text shows it (a MutationObserver's timestamp on the same wall clock).

Targets (issue 13): first load <= 300 ms to interactive with 200 devices, <= 200 KB of assets
compressed, a state change on the page <= 100 ms after the device pushed it.

    .venv/bin/python -m benchmarks.dashboard_bench [--devices 200] [--loads 10] [--pushes 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
TARGETS = {"first_load_ms": 300.0, "assets_kb": 200.0, "push_ms": 100.0}
KINDS = ["plug", "light", "switch", "cover", "thermostat", "sensor"]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(devices: int, loads: int, pushes: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    import tuyagate
    from benchmarks.lan_devices import raise_nofile
    from tuyagate.devices.manifest_import import parse_fleet_manifest
    from tuyagate.devices.registry import Registry
    from tuyagate.devices.tinytuya_import import write_import
    from tuyagate.devices.vault import Vault
    from tuyagate.gateway.app import create_app
    from tuyagate.gateway.server import serve_app
    from tuyagate.gateway.settings import GatewaySettings
    from tuyagate.sim.fleet import SimFleet

    raise_nofile()
    manifest = SimFleet.generate(devices, first_ip="127.0.9.1", port=0, kinds=KINDS)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        async with SimFleet(manifest, idle_timeout=600.0) as fleet:
            registry = Registry.open(data)
            try:
                write_import(parse_fleet_manifest(manifest.to_dict()), registry, Vault.open(registry.db, data))
            finally:
                registry.close()
            home = await tuyagate.open_home(data, cloud=False)
            try:
                # A running gateway knows every device's state from its pushes; so does this one.
                await asyncio.gather(*(d.status(refresh=True) for d in home.devices()))
                settings = GatewaySettings(data_dir=data, scan_listen="127.0.0.1", scan_probe="")
                served = await serve_app(create_app(settings, home, manage_manager=False), "127.0.0.1", 0)
                try:
                    async with async_playwright() as playwright:
                        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                        try:
                            result = await _measure(browser, served.url, home, fleet, loads, pushes)
                        finally:
                            await browser.close()
                finally:
                    await served.stop()
            finally:
                await home.close()
    result["devices"] = devices
    return result


READY = "performance.getEntriesByName('tuyagate-ready')[0].startTime"
# Where the time of a first load goes: the page and assets, the home's answer, drawing it.
BREAKDOWN = """(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const home = performance.getEntriesByType('resource').find(e => e.name.endsWith('/api/v1/home'));
    const mark = (n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN;
    return {script_start: mark('tuyagate-start'), home_request: home.requestStart,
            home_response: home.responseEnd, home_server: home.responseStart - home.requestStart,
            drawn: mark('tuyagate-drawn'), ready: mark('tuyagate-ready'), complete: mark('tuyagate-complete'),
            dom_content_loaded: nav.domContentLoadedEventEnd};
})()"""
RESOURCES = """performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
    .map(e => ({name: e.name, wire: e.encodedBodySize, body: e.decodedBodySize}))"""


async def _measure(browser: Any, url: str, home: Any, fleet: Any, loads: int, pushes: int) -> dict[str, Any]:
    cold: list[float] = []
    warm: list[float] = []
    breakdown: list[dict[str, float]] = []
    wire: dict[str, int] = {}
    for _ in range(loads):
        context = await browser.new_context()  # nothing cached
        page = await context.new_page()
        await page.goto(url + "/")
        await page.wait_for_selector("html[data-ready]")
        cold.append(await page.evaluate(READY))
        await page.wait_for_selector("html[data-complete]")  # every card's controls built
        breakdown.append(await page.evaluate(BREAKDOWN))
        for entry in await page.evaluate(RESOURCES):
            if "/api/" not in entry["name"]:
                wire[entry["name"].replace(url, "")] = entry["wire"]
        await page.reload()  # the assets are cached now
        await page.wait_for_selector("html[data-ready]")
        warm.append(await page.evaluate(READY))
        articles = await page.get_by_role("article").count()
        await context.close()
    assert articles == len(home.devices()), articles

    # Push to page: a plug reports a new power value; the page's text shows it. (The page's CSP
    # forbids eval; Playwright's wait_for_function needs it, so this context bypasses the CSP.)
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    await page.goto(url + "/")
    await page.wait_for_selector("html[data-connection=live]")
    plug = next(d for d in home.devices() if d.info.category == "cz")
    sim = fleet.sim_for(plug.info.id)
    await page.evaluate(
        """id => {
            const out = document.querySelector(`[data-device="${id}"] [data-code="cur_power"] output`);
            window.__seen = [];
            const note = () => window.__seen.push([out.textContent, performance.timeOrigin + performance.now()]);
            new MutationObserver(note).observe(out, {childList: true, characterData: true, subtree: true});
        }""",
        plug.info.id,
    )
    latencies: list[float] = []
    for i in range(pushes):
        watts = 1000 + i
        pushed = time.time() * 1000
        await sim.set_dps({"19": watts})
        text = f"{watts / 10:.1f} W"
        await page.wait_for_function(f"window.__seen.some(s => s[0] === {text!r})", timeout=5000)
        seen = await page.evaluate(f"window.__seen.find(s => s[0] === {text!r})[1]")
        latencies.append(seen - pushed)
        await asyncio.sleep(0.05)  # pacing between pushes (a measurement's spacing, no synchronization)
    await context.close()

    assets = json.loads((ROOT / "src" / "tuyagate" / "gateway" / "dashboard" / "build-info.json").read_text())
    shipped_gzip = sum(f["gzip"] for name, f in assets["files"].items())
    first = sum(v for k, v in wire.items())
    return {
        "first_load_cold_ms": {"median": statistics.median(cold), "p90": _pct(cold, 0.9), "max": max(cold)},
        "first_load_warm_ms": {"median": statistics.median(warm), "p90": _pct(warm, 0.9), "max": max(warm)},
        "first_load_breakdown_ms": {k: statistics.median(b[k] for b in breakdown) for k in breakdown[0]},
        "first_load_wire_bytes": first,
        "first_load_files": wire,
        "all_assets_gzip_bytes": shipped_gzip,
        "push_to_page_ms": {
            "median": statistics.median(latencies),
            "p95": _pct(latencies, 0.95),
            "max": max(latencies),
            "n": len(latencies),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(run(args.devices, args.loads, args.pushes))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    cold, warm, push = result["first_load_cold_ms"], result["first_load_warm_ms"], result["push_to_page_ms"]
    print(f"dashboard, {result['devices']} emulated devices, Chromium {CHROMIUM}")
    print(
        f"  first load to interactive, nothing cached: median {cold['median']:.0f} ms, p90 {cold['p90']:.0f} ms"
        f"  (target <= {TARGETS['first_load_ms']:.0f} ms)"
    )
    print(f"  first load to interactive, assets cached: median {warm['median']:.0f} ms, p90 {warm['p90']:.0f} ms")
    print(
        f"  assets on the wire (gzip): first load {result['first_load_wire_bytes'] / 1024:.1f} KB, "
        f"all shipped {result['all_assets_gzip_bytes'] / 1024:.1f} KB  (target <= {TARGETS['assets_kb']:.0f} KB)"
    )
    print(
        f"  push to page: median {push['median']:.1f} ms, p95 {push['p95']:.1f} ms, max {push['max']:.1f} ms"
        f" over {push['n']} pushes  (target <= {TARGETS['push_ms']:.0f} ms)"
    )


if __name__ == "__main__":
    main()
