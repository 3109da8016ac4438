"""schemathesis against the real server's /openapi.json, in front of the real hub and emulated devices.

Every operation of every dialect the document describes (native REST, the Tuya-cloud-compatible API,
the Tasmota API), three times: without credentials on an open loopback gateway, without credentials
on a gateway that requires tokens, and with credentials there (a control API token; for the
cloud-compatible API every request signed with its client id, secret and an access token it issued).

No generated request may cause a 5xx (devices are healthy, so a 502/504 would mean something the
schema should have refused reached a device), every answer must match the schema and content type
the document declares for it, and every native error must come in the one error shape. Without
credentials on the protected gateway, every scoped operation must refuse (401) and nothing but the
documented open paths may answer 200.

Never fuzzed: ``POST /api/v1/scan`` (it listens, and with production settings broadcasts a probe on
the LAN) and ``POST /api/v1/cloud/sync`` (it rewrites the registry). Both are excluded, and the
gateways here are configured loopback-only for scanning all the same; the last test checks both.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import content_type_conformance, response_schema_conformance
from schemathesis.core.failures import Failure, FailureGroup

from tests.gateway.conftest import BULB, CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, PLUG, SWITCH, Gateway, GatewayFactory
from tuyagate.cloud.signing import sign_headers
from tuyagate.gateway.auth import JsonTokenStore, create_token
from tuyagate.gateway.settings import is_loopback

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_EXAMPLES = 20
NEVER_FUZZED = ("/api/v1/scan", "/api/v1/cloud/sync")
# Open without a token when tokens are in use (the document, the explorer, liveness, the page).
OPEN_PATHS = ("/openapi.json", "/docs", "/healthz", "/")


class CloudSigner(requests.auth.AuthBase):
    """Signs each prepared request as a Tuya cloud client would (the body and query as sent)."""

    def __init__(self, access_token: str = "") -> None:
        self.access_token = access_token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(r.url or "")
        body = r.body.encode() if isinstance(r.body, str) else (r.body or b"")
        token = "" if url.path.startswith("/v1.0/token") else self.access_token
        r.headers.update(
            sign_headers(
                client_id=CLOUD_CLIENT_ID,
                secret=CLOUD_CLIENT_SECRET,
                t=int(time.time() * 1000),
                access_token=token,
                method=r.method or "GET",
                path=unquote(url.path),
                query=parse_qsl(url.query, keep_blank_values=True),
                body=body,
            )
        )
        return r


def _fuzz(
    url: str, *, token: str | None = None, protected: bool = False, examples: int = MAX_EXAMPLES
) -> tuple[list[str], dict[int, int], set[str]]:
    schema: Any = schemathesis.openapi.from_url(f"{url}/openapi.json")
    # The event stream never ends by design; it is covered by its own tests.
    schema = schema.exclude(path="/api/v1/events")
    for path in NEVER_FUZZED:
        schema = schema.exclude(path=path)
    session = requests.Session()
    signed = requests.Session()
    if token is not None:
        session.headers["Authorization"] = f"Bearer {token}"
        signed.auth = CloudSigner()
        answer = signed.get(f"{url}/v1.0/token", params={"grant_type": "1"}, timeout=10).json()
        signed.auth = CloudSigner(answer["result"]["access_token"])
    problems: list[str] = []
    seen: dict[int, int] = {}
    called: set[str] = set()
    cases = 0
    for result in schema.get_all_operations():
        operation: Any = result.ok()

        @hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case: Any) -> None:
            nonlocal cases
            # Half the cases aim at real devices, so generated bodies reach the schema validation.
            if case.path_parameters and "device_id" in case.path_parameters and cases % 2:
                case.path_parameters["device_id"] = (PLUG, SWITCH, BULB)[cases % 3]
            cases += 1
            cloud = case.path.startswith(("/v1.0", "/v1.1"))
            called.add(f"{case.method} {case.path}")
            response = case.call(base_url=url, session=signed if cloud else session, timeout=10)
            where = f"{case.method} {case.formatted_path}"
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            if cloud and response.status_code == 200 and response.json().get("success") is True:
                seen[0] = seen.get(0, 0) + 1  # 0: a cloud-compatible call that succeeded (signed and valid)
            try:
                case.validate_response(response, checks=[response_schema_conformance, content_type_conformance])
            except (Failure, FailureGroup) as exc:
                problems.append(f"{where} -> {response.status_code} does not match the document: {exc!r}"[:400])
            if response.status_code >= 500:
                problems.append(f"{where} -> {response.status_code}: {response.text[:200]}")
            elif response.status_code >= 400 and case.path.startswith(("/api/", "/metrics")):
                body = response.json()
                if set(body) != {"error"} or not {"code", "message"} <= set(body["error"]):
                    problems.append(f"{where} -> {response.status_code} in a foreign shape: {response.text[:200]}")
            if protected and token is None:
                scoped = case.path.startswith(("/api/", "/metrics"))
                if scoped and response.status_code != 401:
                    problems.append(f"{where} -> {response.status_code} without a token on a protected gateway")
                if response.status_code == 200 and not (cloud or case.path in OPEN_PATHS):
                    if not case.path.startswith("/tasmota/"):
                        problems.append(f"{where} -> 200 without credentials")

        check()
    return problems, seen, called


def _assert_never_fuzzed(gw: Gateway, called: set[str]) -> None:
    assert not {c for c in called if c.split(" ", 1)[1] in NEVER_FUZZED}, called
    settings = gw.settings
    assert is_loopback(settings.scan_listen), settings.scan_listen
    assert settings.scan_probe == "", settings.scan_probe


async def _run(fuzz: Callable[[], tuple[list[str], dict[int, int], set[str]]], what: str) -> Any:
    problems, seen, called = result = await asyncio.wait_for(asyncio.to_thread(fuzz), timeout=80)
    statuses = {k: v for k, v in sorted(seen.items()) if k}
    # The figures of RELIABILITY.md ("Bad input"): pytest -s tests/gateway/test_openapi_fuzz.py
    print(f"schemathesis {what}: {len(called)} operations, {sum(statuses.values())} requests, {statuses}, "
          f"{seen.get(0, 0)} signed cloud calls succeeded, problems: {len(problems)}")  # fmt: skip
    return result


async def test_no_generated_request_gives_a_server_error(gateway: Gateway) -> None:
    problems, seen, called = await _run(lambda: _fuzz(gateway.url), "open loopback gateway")
    assert len({c.split(" ", 1)[1] for c in called}) >= 25, called
    assert seen.get(200, 0) > 100, seen
    assert seen.get(422, 0) > 5, seen
    _assert_never_fuzzed(gateway, called)
    assert problems == []


async def test_with_and_without_credentials_on_a_protected_gateway(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    _, token = create_token(JsonTokenStore(tmp_path / "api-tokens.json"), "fuzz", "control")
    gw = await start_gateway(auth_max_failures=100_000)
    problems, seen, called = await _run(lambda: _fuzz(gw.url, protected=True, examples=5), "tokens required, none sent")
    assert seen.get(401, 0) > 50, seen
    assert seen.get(0, 0) == 0, seen
    assert problems == []
    problems, seen, called = await _run(
        lambda: _fuzz(gw.url, token=token, protected=True, examples=12), "control token and signed cloud calls"
    )
    assert seen.get(200, 0) > 100, seen
    assert seen.get(0, 0) > 20, seen
    assert seen.get(401, 0) < seen.get(200, 0), seen  # signed cloud calls and the token got through
    _assert_never_fuzzed(gw, called)
    assert problems == []
