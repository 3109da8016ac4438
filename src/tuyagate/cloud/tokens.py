"""The access token: fetched once, shared, renewed before it expires (cloud-api.md §2).

:class:`TokenManager` holds the policy and no HTTP: the client gives it two coroutines, one
that logs in (``GET /v1.0/token?grant_type=1``) and one that spends a refresh token
(``GET /v1.0/token/{refresh_token}``). Renewal happens under one lock, so a hundred callers
that find the token expiring at the same moment cause exactly one refresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tuyagate.errors import CloudError, ProtocolError

__all__ = ["Token", "TokenManager"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and its one-time refresh token; ``expires_at`` is on the manager's clock."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    uid: str
    expires_at: float

    @classmethod
    def from_result(cls, result: Any, *, now: float) -> Token:
        """Build from a token API ``result`` (``expire_time`` seconds; older docs say ``expire``)."""
        if not isinstance(result, Mapping) or not result.get("access_token"):
            raise ProtocolError("the token answer has no access_token")
        lifetime = result.get("expire_time", result.get("expire", 7200))
        try:
            seconds = float(lifetime)
        except (TypeError, ValueError):
            seconds = 7200.0
        return cls(
            access_token=str(result["access_token"]),
            refresh_token=str(result.get("refresh_token") or ""),
            uid=str(result.get("uid") or ""),
            expires_at=now + seconds,
        )


class TokenManager:
    """Caches the token; refreshes it ``margin`` seconds before expiry; logs in again when needed.

    * ``get()`` returns a token valid for at least ``margin`` more seconds.
    * Renewal spends the refresh token; if that fails with a cloud error it logs in from scratch.
    * ``invalidate(token)`` drops a token the cloud refused (1010/1011/1012) so the next
      ``get()`` logs in again; a token already replaced by another caller is left alone.
    """

    def __init__(
        self,
        login: Callable[[], Awaitable[Token]],
        refresh: Callable[[str], Awaitable[Token]],
        *,
        margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._login = login
        self._refresh = refresh
        self._margin = margin
        self._clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self.logins = 0  # full logins done (grant_type=1)
        self.refreshes = 0  # refresh-token exchanges that succeeded
        self.refresh_failures = 0

    @property
    def current(self) -> Token | None:
        """The cached token (possibly stale), without any I/O."""
        return self._token

    def _fresh(self, token: Token | None) -> bool:
        return token is not None and self._clock() < token.expires_at - self._margin

    async def get(self) -> Token:
        """A token valid for at least ``margin`` seconds (renewed under the lock when needed)."""
        token = self._token
        if self._fresh(token):
            assert token is not None
            return token
        async with self._lock:
            token = self._token
            if self._fresh(token):
                assert token is not None
                return token
            if token is not None and token.refresh_token:
                try:
                    token = await self._refresh(token.refresh_token)
                except CloudError as exc:
                    self.refresh_failures += 1
                    _LOG.info("token refresh refused (code %s); logging in again", exc.code)
                    token = await self._do_login()
                else:
                    self.refreshes += 1
            else:
                token = await self._do_login()
            self._token = token
            return token

    async def _do_login(self) -> Token:
        token = await self._login()
        self.logins += 1
        return token

    async def invalidate(self, token: Token) -> None:
        """Forget ``token`` (the cloud refused it); the next ``get()`` logs in from scratch."""
        async with self._lock:
            if self._token is token:
                self._token = None

    def clear(self) -> None:
        """Forget any token without I/O."""
        self._token = None
