"""The floor under the gateway's figures: the same HTTP server with an app that does nothing.

``benchmarks.gateway_load --floor`` runs this server after the gateway, under the same wrk phases: the
same uvicorn, httptools and uvloop, the gateway's own protocol class (head limits, one timer per
connection, an answer's head and body in one write) and options, and an ASGI app that answers every
GET with a fixed status-sized JSON and every POST, once its body is read, with a fixed command-sized
one. What it costs per request is what serving HTTP costs before any gateway code runs; the
gateway's own share of a request is its CPU minus this.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

_STATUS = b'{"device_id":"bf0000000000000000000","online":true,"route":"cache","values":{"switch_1":true}}'
_COMMAND = b'{"device_id":"bf0000000000000000000","success":true,"dps":{"1":true},"route":"lan"}'


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers without looking: GET a status-sized JSON; POST, after reading its body, a command-sized one."""
    if scope["type"] != "http":
        return
    body = _STATUS
    if scope["method"] == "POST":
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        body = _COMMAND
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def floor_process(port_queue: Any) -> None:
    """The bare server's process: uvicorn on uvloop with the gateway's protocol and options, port 0."""
    import uvicorn
    import uvloop

    from tuyagate.gateway.http_limits import HeadLimits, protocol_with

    async def main() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            bare_app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            proxy_headers=False,
            http=protocol_with(HeadLimits()),
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        async with asyncio.timeout(30):
            while not server.started:
                if serving.done():
                    serving.result()  # raises why it stopped
                    raise SystemExit("the bare server stopped before it started")
                await asyncio.sleep(0.01)
        port_queue.put(sock.getsockname()[1])
        await serving

    uvloop.run(main())
