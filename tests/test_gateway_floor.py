"""The floor server of ``benchmarks.gateway_load --floor`` (``benchmarks.gateway_floor``) serves what wrk's
phases send, through the gateway's own uvicorn protocol: a GET and a POST over one keep-alive connection."""

from __future__ import annotations

import multiprocessing

import httpx
from benchmarks.gateway_bench import stop_process
from benchmarks.gateway_floor import floor_process


def test_the_floor_server_answers_reads_and_commands() -> None:
    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(target=floor_process, args=(ports,), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            read = client.get("/api/v1/devices/bf0/status")
            command = client.post("/api/v1/devices/bf0/commands", json={"dps": {"1": True}})
            refused = client.get("/" + "x" * 20_000)  # the gateway's head limits are in place
    finally:
        stop_process(server)
    assert read.status_code == 200
    assert read.json()["route"] == "cache"
    assert command.status_code == 200
    assert command.json()["success"] is True
    assert refused.status_code == 414
