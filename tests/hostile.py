"""Hypothesis strategies for what a hostile or broken peer sends: JSON documents of any shape, and bytes
that only look like JSON (nested thousands deep, cut short, not UTF-8, numbers out of range).

Shared by the property tests of every parser that reads outside bytes (cloud answers and messages,
firmware answers, MQTT payloads, Tasmota commands). ``FUZZ_EXAMPLES`` is their common budget (200, or
``TUYAGATE_FUZZ_EXAMPLES``); RELIABILITY.md ("Bad input") has the figures of a longer run.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ_EXAMPLES = int(os.environ.get("TUYAGATE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "{", "[]", "{}", "1e999", "true", "\x00", "é", "\ud800"])
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def objects(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects whose keys are mostly the ones a parser looks for, with values of any shape."""
    return st.dictionaries(keys | st.text(max_size=6), json_values, max_size=6)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def _deep(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(100, 30_000))
    opener = draw(st.sampled_from([b"[", b'{"a":', b'{"dps":', b'{"commands":[']))
    closed = draw(st.booleans())
    closer = {b"[": b"]", b'{"a":': b"}", b'{"dps":': b"}", b'{"commands":[': b"]}"}[opener]
    return opener * depth + (b"1" + closer * depth if closed else b"")


@st.composite
def _damaged(draw: st.DrawFn, documents: st.SearchStrategy[bytes]) -> bytes:
    doc = draw(documents)
    if not doc:
        return doc
    i = draw(st.integers(0, len(doc) - 1))
    kind = draw(st.sampled_from(["cut", "flip", "insert"]))
    if kind == "cut":
        return doc[:i]
    if kind == "flip":
        return doc[:i] + bytes([doc[i] ^ draw(st.integers(1, 255))]) + doc[i + 1 :]
    return doc[:i] + draw(st.binary(min_size=1, max_size=8)) + doc[i:]


def hostile_bytes(documents: st.SearchStrategy[Any] = json_values) -> st.SearchStrategy[bytes]:
    """Bytes a peer could send where JSON is expected: ``documents`` (encoded), damaged copies of them,
    documents nested too deep for the json module, and noise."""
    encoded = documents.map(_dumps)
    return (
        encoded
        | _damaged(encoded)
        | _deep()
        | st.binary(max_size=64)
        | st.sampled_from([b"", b"null", b"1e999999", b"-", b'"\\ud800"', b"\xff\xfe", b"<html>Bad gateway</html>"])
    )


class AnswerServer:
    """A loopback HTTP server that answers every request with the status and body set last.

    Used by the property tests of the HTTP clients (cloud, firmware): the client under test talks to
    it over a real socket, so its whole path -- transport, status handling, JSON decoding, typed results
    -- reads what Hypothesis drew. ``overrides`` answer chosen path prefixes with fixed answers (a
    cloud token, say) so that the drawn answer reaches the call after them.
    """

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.overrides: dict[str, tuple[int, bytes]] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                status, body = next(
                    (a for p, a in owner.overrides.items() if self.path.startswith(p)), (owner.status, owner.body)
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    def __enter__(self) -> AnswerServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
