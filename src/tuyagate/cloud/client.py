"""The async Tuya Cloud OpenAPI client.

Three layers inside one class, from the wire up:

* ``_exchange``: one signed HTTP call, with the client-side rate limiter in front, retries
  with backoff and jitter on network errors, HTTP 5xx and the cloud's "busy / too frequent"
  codes, and the clock corrected once from the server's ``t`` on 1013.
* ``call``: adds the access token, and on 1010/1011/1012 gets a new one and retries once.
  It returns the whole envelope (``{"success": ..., "result": ...}``) even when ``success`` is
  false: that is what ``tuyagate cloud call`` prints.
* ``request`` and the typed helpers (``devices``, ``status``, ``send_commands``, ...): return
  the ``result`` or raise :class:`~tuyagate.errors.CloudError` with a hint from
  :mod:`tuyagate.cloud.codes`.

The secret is kept in a private attribute and never logged, repr'd or put in an error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from tuyagate.cloud import codes
from tuyagate.cloud.models import (
    CloudDevice,
    DeviceLog,
    DpMapping,
    Specification,
    StatusItem,
    SubDevice,
    object_items,
)
from tuyagate.cloud.ratelimit import RateLimiter
from tuyagate.cloud.regions import resolve_base_url
from tuyagate.cloud.signing import QueryLike, SignScheme, is_token_path, sign_headers, split_path
from tuyagate.cloud.tokens import Token, TokenManager
from tuyagate.deadline import Deadline
from tuyagate.errors import CloudError, ConfigError, ProtocolError, TuyaConnectionError, TuyaError, TuyaTimeoutError

__all__ = ["TuyaCloudClient"]

_LOG = logging.getLogger(__name__)

COMMANDS_PATH = "/v1.0/iot-03/devices/{id}/commands"
# Tuya does not document a per-call limit on commands; 20 matches the batch-status limit and
# the emulator enforces the same number (1101 above it).
DEFAULT_COMMANDS_PER_CALL = 20
STATUS_BATCH = 20  # "max 20 once call" (tuya-iot-py-sdk) for /v1.0/iot-03/devices/status
MAX_PAGES = 1000
_MIN_ATTEMPT = 0.05  # seconds a retry must have left after its back-off, at least


def _redact_path(path: str) -> str:
    """Hide the refresh token that travels in the refresh URL."""
    head, sep, _ = path.partition("/v1.0/token/")
    return head + sep + "***" if sep else path


class _RedactRefreshTokenFilter(logging.Filter):
    """httpx logs every URL at INFO; the refresh URL carries a one-time secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("/v1.0/token/" in str(a) for a in record.args):
            record.args = tuple(_redact_path(str(a)) if "/v1.0/token/" in str(a) else a for a in record.args)
        return True


def _install_log_filter() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactRefreshTokenFilter) for f in logger.filters):
        logger.addFilter(_RedactRefreshTokenFilter())


def _encode_body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _pairs(query: QueryLike | None) -> list[tuple[str, str]]:
    if not query:
        return []
    items = query.items() if isinstance(query, Mapping) else query
    return [(str(k), _query_text(v)) for k, v in items]


def _tls_refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _fill(device: CloudDevice, other: Mapping[str, Any] | None) -> CloudDevice:
    if other is None:
        return device
    return dataclasses.replace(
        device,
        gateway_id=device.gateway_id or str(other.get("gateway_id") or ""),
        local_key=device.local_key or str(other.get("local_key") or ""),
    )


def _verify_context(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


class TuyaCloudClient:
    """Async client of the Tuya OpenAPI (``region`` code or a custom ``base_url``).

    Use it as ``async with TuyaCloudClient(client_id, secret, region="eu") as cloud: ...``.
    ``verify`` may be a CA bundle path (for an emulator's self-signed certificate).
    ``clock`` and ``sleep`` are injectable for tests; ``transport`` replaces the network.
    """

    def __init__(
        self,
        client_id: str,
        secret: str,
        *,
        region: str | None = None,
        base_url: str | None = None,
        sign_scheme: SignScheme = SignScheme.CURRENT,
        lang: str = "en",
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        qps: float | None = None,
        daily_quota: int | None = None,
        refresh_margin: float = 60.0,
        max_commands_per_call: int = DEFAULT_COMMANDS_PER_CALL,
        page_size: int = 50,
        use_nonce: bool = True,
        verify: bool | str | ssl.SSLContext = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not client_id or not secret:
            raise ConfigError("no cloud client id or secret given: pass the cloud project's Access ID and Secret")
        self.base_url = resolve_base_url(region, base_url)
        self.client_id = client_id
        self.__secret = secret
        self.sign_scheme = sign_scheme
        self.lang = lang
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_commands_per_call = max(1, max_commands_per_call)
        self.page_size = page_size
        self.use_nonce = use_nonce
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self.clock_offset = 0.0  # seconds to add to the local clock (learnt from 1013 answers)
        self.requests_sent = 0
        self.limiter = RateLimiter(qps=qps, daily_quota=daily_quota, clock=clock, sleep=sleep)
        self.tokens = TokenManager(self._login, self._refresh, margin=refresh_margin, clock=clock)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            verify=_verify_context(verify),
            transport=transport,
        )
        _install_log_filter()

    def __repr__(self) -> str:
        return f"TuyaCloudClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    async def __aenter__(self) -> TuyaCloudClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    # -- the wire --------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The timestamp sent as ``t``: the local clock plus the learnt offset, in ms."""
        return int((self._clock() + self.clock_offset) * 1000)

    def _delay(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.backoff * (2.0**attempt))
        return ceiling / 2 + self._jitter() * ceiling / 2

    async def _exchange(
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        body: bytes,
        access_token: str,
        deadline: Deadline | None = None,
    ) -> dict[str, Any]:
        """One signed call with retries; returns the parsed envelope (success or not).

        Under a ``deadline`` each attempt may take only what is left of it, and a retry is made only
        when its back-off leaves it at least as long as the last attempt took (and 50 ms): otherwise
        the last failure is raised at once, so a failing cloud is reported as what it answered (HTTP
        503, a busy code) instead of as a timeout of a retry that had no time left.
        """
        attempt = 0
        skew_fixed = False
        shown = _redact_path(path)
        # the query is encoded once here (httpx would re-parse the URL for ``params=``); signed raw below
        url = path + ("?" + urlencode(pairs, quote_via=quote) if pairs else "")
        while True:
            await self.limiter.acquire()
            t = self.now_ms()
            headers = sign_headers(
                client_id=self.client_id,
                secret=self.__secret,
                t=t,
                access_token=access_token,
                nonce=uuid.uuid4().hex if self.use_nonce else "",
                method=method,
                path=path,
                query=pairs,
                body=body,
                scheme=self.sign_scheme,
            )
            headers["lang"] = self.lang
            if body:
                headers["Content-Type"] = "application/json"
            failure: TuyaError
            self.requests_sent += 1
            started = time.perf_counter()
            try:
                if deadline is None:
                    response = await self._http.request(method, url, content=body or None, headers=headers)
                else:
                    response = await self._http.request(
                        method,
                        url,
                        content=body or None,
                        headers=headers,
                        timeout=max(1e-3, min(self.timeout, deadline.remaining())),
                    )
            except httpx.TimeoutException:
                within = f"within {self.timeout:g} s" if deadline is None else "before the deadline"
                failure = TuyaTimeoutError(f"the Tuya cloud did not answer {method} {shown} {within}")
            except httpx.TransportError as exc:
                if _tls_refused(exc):  # retrying will not make the certificate trusted
                    raise TuyaConnectionError(
                        f"cannot reach the Tuya cloud at {self.base_url}: its TLS certificate is not trusted ({exc}); "
                        "for an emulator, pass its certificate as the CA bundle"
                    ) from None
                failure = TuyaConnectionError(
                    f"cannot reach the Tuya cloud at {self.base_url}: {type(exc).__name__}: {exc}"
                )
            else:
                if response.status_code >= 500:
                    failure = CloudError(
                        response.status_code,
                        f"HTTP {response.status_code} from {self.base_url} for {method} {shown}",
                        hint="the cloud is failing; retry later",
                    )
                else:
                    envelope = self._parse(response, method, shown)
                    code = envelope.get("code")
                    if envelope.get("success") or code is None:
                        return envelope
                    if codes.kind_of(code) == "clock" and not skew_fixed and self._learn_skew(envelope):
                        skew_fixed = True
                        continue
                    if not codes.is_retryable(code):
                        return envelope
                    failure = codes.cloud_error(code, str(envelope.get("msg", "")))
            delay = self._delay(attempt)
            room = delay + max(time.perf_counter() - started, _MIN_ATTEMPT)
            if attempt >= self.retries or (deadline is not None and deadline.remaining() <= room):
                _LOG.info("%s %s failed after %d attempt(s): %s", method, shown, attempt + 1, failure)
                raise failure
            _LOG.debug("%s %s: %s; retry %d in %.2f s", method, shown, failure, attempt + 1, delay)
            attempt += 1
            await self._sleep(delay)

    def _parse(self, response: httpx.Response, method: str, shown: str) -> dict[str, Any]:
        try:
            data = response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            data = None
        if isinstance(data, dict):
            _LOG.debug("%s %s -> success=%s code=%s", method, shown, data.get("success"), data.get("code"))
            return data
        if response.status_code >= 400:
            raise CloudError(
                response.status_code,
                f"HTTP {response.status_code} from {self.base_url} for {method} {shown}",
                hint="check the base URL / region",
            )
        raise ProtocolError(f"the Tuya cloud answered {method} {shown} with something that is not a JSON object")

    def _learn_skew(self, envelope: Mapping[str, Any]) -> bool:
        server_t = envelope.get("t")
        if not isinstance(server_t, int | float) or isinstance(server_t, bool):
            return False
        self.clock_offset = server_t / 1000.0 - self._clock()
        _LOG.warning("clock differs from the Tuya cloud's by %.1f s; correcting", self.clock_offset)
        return True

    # -- tokens ----------------------------------------------------------------------------

    async def _token_call(self, path: str, pairs: list[tuple[str, str]]) -> Token:
        envelope = await self._exchange("GET", path, pairs, b"", "")
        return Token.from_result(self._result(envelope), now=self._clock())

    async def _login(self) -> Token:
        return await self._token_call("/v1.0/token", [("grant_type", "1")])

    async def _refresh(self, refresh_token: str) -> Token:
        return await self._token_call(f"/v1.0/token/{refresh_token}", [])

    async def token(self) -> Token:
        """The current access token (logging in or refreshing when needed)."""
        return await self.tokens.get()

    # -- generic calls ---------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        query: QueryLike | None = None,
        body: Any = None,
        deadline: Deadline | None = None,
    ) -> dict[str, Any]:
        """A signed call; returns the whole envelope, ``success`` true or false.

        ``path`` may carry a query string; its values may be URL-encoded (they are decoded,
        signed raw and encoded again on the wire). Token refusals are handled transparently.
        With a ``deadline`` everything (rate limiter, token renewal, retries) ends by it, with
        TuyaTimeoutError; without one each attempt has the client's ``timeout``.
        """
        method = method.upper()
        base, inline = split_path(path)
        pairs = inline + _pairs(query)
        data = _encode_body(body)
        if deadline is None:
            return await self._call(method, base, pairs, data, None)
        try:
            async with deadline.timeout():
                return await self._call(method, base, pairs, data, deadline)
        except TuyaTimeoutError:
            raise
        except TimeoutError:
            raise TuyaTimeoutError(
                f"the Tuya cloud did not answer {method} {_redact_path(base)} before the deadline"
            ) from None

    async def _call(
        self, method: str, base: str, pairs: list[tuple[str, str]], data: bytes, deadline: Deadline | None
    ) -> dict[str, Any]:
        if is_token_path(base):
            return await self._exchange(method, base, pairs, data, "", deadline)
        reauthorised = False
        while True:
            token = await self.tokens.get()
            envelope = await self._exchange(method, base, pairs, data, token.access_token, deadline)
            if not envelope.get("success") and codes.is_reauth(envelope.get("code")) and not reauthorised:
                _LOG.info("token refused (code %s); logging in again", envelope.get("code"))
                reauthorised = True
                await self.tokens.invalidate(token)
                continue
            return envelope

    @staticmethod
    def _result(envelope: Mapping[str, Any]) -> Any:
        if not envelope.get("success"):
            raise codes.cloud_error(envelope.get("code", "unknown"), str(envelope.get("msg", "")))
        return envelope.get("result")

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: QueryLike | None = None,
        body: Any = None,
        deadline: Deadline | None = None,
    ) -> Any:
        """A signed call; returns ``result`` or raises CloudError."""
        return self._result(await self.call(method, path, query=query, body=body, deadline=deadline))

    async def get(self, path: str, *, deadline: Deadline | None = None, **query: Any) -> Any:
        """``GET path?query`` -> result."""
        return await self.request("GET", path, query=query or None, deadline=deadline)

    # -- devices ---------------------------------------------------------------------------

    async def _pages(self, path: str, query: dict[str, Any], items_key: str) -> list[Mapping[str, Any]]:
        """Every item of a ``has_more`` / ``last_row_key`` paged list."""
        found: list[Mapping[str, Any]] = []
        seen_keys: set[str] = set()
        for _ in range(MAX_PAGES):
            result = await self.request("GET", path, query=query)
            if not isinstance(result, Mapping):
                raise ProtocolError(f"the answer to GET {path} is not an object")
            found.extend(object_items(result.get(items_key)))
            key = result.get("last_row_key")
            if not result.get("has_more") or not key or str(key) in seen_keys:
                break
            seen_keys.add(str(key))
            query = {**query, "last_row_key": key}
        return found

    async def devices(self) -> list[CloudDevice]:
        """Every device of the app accounts linked to the project (all pages).

        Like tinytuya, a second listing per app account (``/v1.3/iot-03/devices``) fills in what
        the first one may lack (a sub-device's ``gateway_id``, a missing local key); it is only
        made when something is missing.
        """
        found = [
            CloudDevice.from_api(d)
            for d in await self._pages("/v1.0/iot-01/associated-users/devices", {"size": self.page_size}, "devices")
        ]
        lacking = {d.uid for d in found if d.uid and ((d.sub and not d.gateway_id) or not d.local_key)}
        extra: dict[str, Mapping[str, Any]] = {}
        for uid in sorted(lacking):
            query = {"source_type": "tuyaUser", "source_id": uid, "page_size": 75}
            extra.update((str(d.get("id")), d) for d in await self._pages("/v1.3/iot-03/devices", query, "list"))
        if not extra:
            return found
        return [_fill(d, extra.get(d.id)) for d in found]

    async def device(self, device_id: str) -> CloudDevice:
        """One device's details, with its local key, uid and inline status."""
        result = await self.get(f"/v1.0/devices/{device_id}")
        if not isinstance(result, Mapping):
            raise ProtocolError("the device answer is not an object")
        return CloudDevice.from_api(result)

    async def status(self, device_id: str, *, deadline: Deadline | None = None) -> list[StatusItem]:
        """The device's reported values, by code."""
        result = await self.get(f"/v1.0/iot-03/devices/{device_id}/status", deadline=deadline)
        return [StatusItem.from_api(i) for i in object_items(result)]

    async def statuses(
        self, device_ids: Sequence[str], *, deadline: Deadline | None = None
    ) -> dict[str, list[StatusItem]]:
        """Status of many devices, ``STATUS_BATCH`` per call."""
        out: dict[str, list[StatusItem]] = {}
        for start in range(0, len(device_ids), STATUS_BATCH):
            chunk = device_ids[start : start + STATUS_BATCH]
            result = await self.get("/v1.0/iot-03/devices/status", deadline=deadline, device_ids=",".join(chunk))
            for entry in object_items(result):
                out[str(entry.get("id"))] = [StatusItem.from_api(i) for i in object_items(entry.get("status"))]
        return out

    async def send_commands(
        self,
        device_id: str,
        commands: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        deadline: Deadline | None = None,
    ) -> None:
        """Send ``{"code": value}`` or ``[{"code": ..., "value": ...}]``; split into calls of
        ``max_commands_per_call``. Raises CloudError (2001 offline, 2008 bad code/value, ...)."""
        if isinstance(commands, Mapping):
            items = [{"code": str(k), "value": v} for k, v in commands.items()]
        else:
            items = [{"code": str(c["code"]), "value": c.get("value")} for c in commands]
        path = COMMANDS_PATH.format(id=device_id)
        for start in range(0, len(items), self.max_commands_per_call):
            batch = items[start : start + self.max_commands_per_call]
            result = await self.request("POST", path, body={"commands": batch}, deadline=deadline)
            if result is False:
                raise CloudError(1103, "commands issue error", hint="the cloud did not accept the command")

    async def functions(self, device_id: str) -> Specification:
        """The instruction set (writable codes and their value schemas)."""
        result = await self.get(f"/v1.0/iot-03/devices/{device_id}/functions")
        return Specification.from_api(result if isinstance(result, Mapping) else {})

    async def specification(self, device_id: str) -> Specification:
        """Functions and status sets with their DP ids (``/v1.1/devices/{id}/specifications``)."""
        result = await self.get(f"/v1.1/devices/{device_id}/specifications")
        return Specification.from_api(result if isinstance(result, Mapping) else {})

    async def dp_mapping(self, device_id: str) -> DpMapping:
        """The DP id <-> code mapping; empty when the device has no standard DPs (2009)."""
        try:
            spec = await self.specification(device_id)
        except CloudError as exc:
            if str(exc.code) == "2009":
                return DpMapping()
            raise
        return DpMapping.from_specification(spec)

    async def logs(
        self,
        device_id: str,
        *,
        start_ms: int,
        end_ms: int,
        types: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
        codes_filter: Sequence[str] = (),
        size: int = 100,
        max_pages: int = 10,
    ) -> list[DeviceLog]:
        """Log events between two ms timestamps, following ``next_row_key`` up to ``max_pages``."""
        query: dict[str, Any] = {
            "type": ",".join(str(t) for t in types),
            "start_time": start_ms,
            "end_time": end_ms,
            "size": min(100, max(1, size)),
            "query_type": 1,
        }
        if codes_filter:
            query["codes"] = ",".join(codes_filter)
        events: list[DeviceLog] = []
        for _ in range(max_pages):
            result = await self.request("GET", f"/v1.0/devices/{device_id}/logs", query=query)
            if not isinstance(result, Mapping):
                break
            events.extend(DeviceLog.from_api(e) for e in object_items(result.get("logs")))
            key = result.get("next_row_key")
            if not result.get("has_next") or not key or key == query.get("start_row_key"):
                break
            query["start_row_key"] = key
        return events

    async def sub_devices(self, gateway_id: str) -> list[SubDevice]:
        """The devices behind a gateway."""
        result = await self.get(f"/v1.0/iot-03/devices/{gateway_id}/sub-devices")
        return [SubDevice.from_api(d) for d in object_items(result)]
