"""The suite-wide secret scan (tests/secret_scan.py) finds a secret planted in each channel it collects.

Without this the scan could pass by collecting nothing: here a log record, a real gateway answer and
captured output each carry a fresh secret, and the scan must name this test for each; the planted
texts are then withdrawn so the session itself stays clean.
"""

from __future__ import annotations

import logging
import secrets

import pytest

from tests.gateway.conftest import Gateway
from tests.secret_scan import SCAN

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_planted_secret_is_found_in_logs_answers_and_output(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    planted = {kind: f"planted-{kind}-{secrets.token_hex(8)}" for kind in ("log", "answer", "output")}
    for kind, value in planted.items():
        SCAN.secret(value, f"planted {kind}")
    try:
        logging.getLogger("tuyagate.selftest").debug("a careless line with %s", planted["log"])
        r = await gateway.client.get(f"/api/v1/devices/{planted['answer']}")  # the 404 names the device asked for
        assert r.status_code == 404
        assert planted["answer"] in r.text
        print(planted["output"])
        capsys.readouterr()
        found = {kind for test, kind in SCAN.findings() if test == request.node.nodeid}
        assert found == {"planted log", "planted answer", "planted output"}
        assert "gateway answers" in SCAN.summary()
    finally:
        SCAN.forget(request.node.nodeid)
        for value in planted.values():
            SCAN.secrets.pop(value, None)
    assert not [f for f in SCAN.findings() if f[0] == request.node.nodeid]
