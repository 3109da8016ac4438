"""The HTTP plumbing shared by the Tasmota, OpenBeken and ESPHome clients.

One place decides the rules every firmware call follows:

- every call has a deadline (retries included), so a device that is down gives an error in bounded time;
- only errors that happen before the request reached the device (connect errors) are retried, with a
  bounded exponential backoff; a request that may have been executed is never sent twice;
- transport failures become the shared exception tree (refused -> :class:`TuyaConnectionRefused`,
  deadline -> :class:`TuyaTimeoutError`, a connection that broke -> :class:`TuyaConnectionLost`),
  HTTP 401/403 becomes :class:`FlashedAuthError`, and a body that is not JSON becomes a
  :class:`ProtocolError` quoting a short excerpt.

Credentials go in a Basic ``Authorization`` header unless a caller asks for query parameters; messages
name the device by host and port only, never by a URL that could carry a password.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tuyagate.errors import (
    ConfigError,
    ProtocolError,
    TuyaConnectionError,
    TuyaConnectionLost,
    TuyaConnectionRefused,
    TuyaTimeoutError,
)
from tuyagate.flashed.errors import FlashedAuthError

__all__ = ["HttpOptions", "HttpTransport", "excerpt", "parse_json"]

_LOG = logging.getLogger(__name__)
EXCERPT_CHARS = 120


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Deadline and retry policy of one firmware client."""

    timeout: float = 5.0  # seconds for one call, retries included
    retries: int = 2  # extra attempts after a connect error
    backoff: float = 0.1  # delay before the first retry; doubled for each further one
    max_backoff: float = 1.0


def excerpt(text: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable quote of a peer's answer for error messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + "..."


def parse_json(body: bytes | str, where: str) -> Any:
    """Decode a JSON answer; anything else is a ProtocolError naming ``where`` and quoting the body."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: JSON nested thousands deep
        raise ProtocolError(f"{where} answered with something that is not JSON: {excerpt(body)!r}") from exc


def _is_refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError) or "refused" in str(cur).lower():
            return True
        cur = cur.__cause__ or cur.__context__
    return False


class HttpTransport:
    """An ``httpx.AsyncClient`` bound to one device, with the deadline/retry/error rules above."""

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        options: HttpOptions | None = None,
        label: str = "device",
    ) -> None:
        parsed = httpx.URL(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigError(f"not an http(s) URL: {parsed.copy_with(username=None, password=None)}")
        # Credentials written into the URL are moved out of it, so no message or log line can show them.
        if parsed.username and user is None:
            user = parsed.username
        if parsed.password and password is None:
            password = parsed.password
        self.base_url = parsed.copy_with(username=None, password=None, query=None, fragment=None)
        self.host = parsed.host
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.user = user
        self._password = password
        self.options = options or HttpOptions()
        self.where = f"{label} at {self.host}:{self.port}"
        self._client = httpx.AsyncClient(
            base_url=str(self.base_url).rstrip("/"),
            timeout=httpx.Timeout(self.options.timeout),
            follow_redirects=False,
        )

    def __repr__(self) -> str:  # never shows the password
        return f"HttpTransport({self.where!r}, user={self.user!r})"

    @property
    def has_password(self) -> bool:
        return bool(self._password)

    def credentials(self) -> tuple[str, str] | None:
        """(user, password) for callers that must send them as query parameters (old Tasmota)."""
        if self._password is None and self.user is None:
            return None
        return (self.user or "", self._password or "")

    def _auth(self, use_auth: bool) -> httpx.BasicAuth | None:
        if not use_auth or self._password is None:
            return None
        return httpx.BasicAuth(self.user or "", self._password)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        basic_auth: bool = True,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request under the deadline; returns the response for any status except 401/403."""
        deadline = self.options.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(deadline):
                response = await self._send_with_retries(method, path, params, data, basic_auth, deadline)
        except TimeoutError as exc:
            raise TuyaTimeoutError(f"{self.where} did not answer within {deadline:g} s") from exc
        if response.status_code in (401, 403):
            raise FlashedAuthError(
                f"{self.where} refused the credentials (HTTP {response.status_code}); check user and password"
            )
        return response

    async def _send_with_retries(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
        basic_auth: bool,
        deadline: float,
    ) -> httpx.Response:
        delay = self.options.backoff
        attempt = 0
        while True:
            try:
                return await self._client.request(
                    method,
                    path,
                    params=params,
                    data=data,
                    auth=self._auth(basic_auth),
                    timeout=deadline,
                )
            except httpx.ConnectError as exc:
                if attempt >= self.options.retries:
                    if _is_refused(exc):
                        raise TuyaConnectionRefused(
                            f"{self.where} refused the connection (device off, wrong address or port?)"
                        ) from exc
                    raise TuyaConnectionError(f"cannot connect to {self.where}: {exc}") from exc
                attempt += 1
                _LOG.debug("connect to %s failed (%s); retry %d in %.2f s", self.where, exc, attempt, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.options.max_backoff)
            except httpx.TimeoutException as exc:
                raise TuyaTimeoutError(f"{self.where} did not answer within {deadline:g} s") from exc
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                raise TuyaConnectionLost(f"{self.where} closed the connection before answering ({exc})") from exc
            except httpx.HTTPError as exc:
                raise TuyaConnectionError(f"HTTP error talking to {self.where}: {exc}") from exc

    async def get_json(
        self, path: str, *, params: Mapping[str, str] | None = None, timeout: float | None = None
    ) -> Any:
        """GET and decode JSON; non-2xx statuses other than 401/403 are returned to the caller by ``request``."""
        response = await self.request("GET", path, params=params, timeout=timeout)
        return parse_json(response.content, self.where)

    @asynccontextmanager
    async def stream(self, path: str, *, connect_timeout: float | None = None) -> AsyncIterator[httpx.Response]:
        """Open a long-lived GET (Server-Sent Events): the deadline covers connecting and the headers only."""
        deadline = self.options.timeout if connect_timeout is None else connect_timeout
        timeout = httpx.Timeout(deadline, read=None)
        request = self._client.build_request("GET", path, timeout=timeout, headers={"Accept": "text/event-stream"})
        try:
            async with asyncio.timeout(deadline):
                response = await self._client.send(request, auth=self._auth(True), stream=True)
        except TimeoutError as exc:
            raise TuyaTimeoutError(f"{self.where} did not open its event stream within {deadline:g} s") from exc
        except httpx.ConnectError as exc:
            if _is_refused(exc):
                raise TuyaConnectionRefused(f"{self.where} refused the connection") from exc
            raise TuyaConnectionError(f"cannot connect to {self.where}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise TuyaConnectionError(f"HTTP error opening the event stream of {self.where}: {exc}") from exc
        try:
            if response.status_code in (401, 403):
                raise FlashedAuthError(f"{self.where} refused the credentials (HTTP {response.status_code})")
            if response.status_code != 200:
                raise ProtocolError(f"{self.where} answered HTTP {response.status_code} for its event stream")
            yield response
        finally:
            await response.aclose()

    async def close(self) -> None:
        await self._client.aclose()
