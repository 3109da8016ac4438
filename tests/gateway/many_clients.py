"""Many concurrent HTTP clients against one device, for the one-connection-per-device tests."""

from __future__ import annotations

import asyncio

import httpx


async def many_clients(url: str, device_id: str, n: int = 200) -> list[tuple[int, str]]:
    """n concurrent HTTP clients (own connections), half reading fresh status, half commanding.

    Run it in a thread with its own event loop, as real clients would be: in the gateway's loop the
    client work would delay the server and the device's replies."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as c:

        async def one(i: int) -> tuple[int, str]:
            if i % 2:
                r = await c.get(f"/api/v1/devices/{device_id}/status", params={"refresh": "true"})
            else:
                r = await c.post(f"/api/v1/devices/{device_id}/commands", json={"dps": {"1": bool(i % 4)}})
            return r.status_code, r.json().get("route", "")

        return await asyncio.gather(*(one(i) for i in range(n)))
