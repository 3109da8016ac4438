"""Access and refresh tokens issued by the Tuya-cloud-compatible API.

They follow the cloud's rules so that SDK token handling works unchanged: an access token is valid
for ``ttl`` seconds, a refresh token can be used once and replaces both tokens. Tokens live in
memory only (a restart makes clients fetch a new one, which every Tuya SDK does on code 1010) and
their number is bounded.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

__all__ = ["CloudTokens", "IssuedToken"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float
    ttl: int

    def result(self) -> dict[str, object]:
        """The ``result`` of a token answer."""
        return {
            "access_token": self.access_token,
            "expire_time": self.ttl,
            "refresh_token": self.refresh_token,
            "uid": "tuyagate",
        }


class CloudTokens:
    """Issues, checks and refreshes tokens; at most ``max_tokens`` live at once (oldest dropped)."""

    def __init__(self, ttl: int = 7200, *, max_tokens: int = 1000) -> None:
        self.ttl = ttl
        self.max_tokens = max_tokens
        self._by_access: OrderedDict[str, IssuedToken] = OrderedDict()
        self._by_refresh: dict[str, IssuedToken] = {}

    def __repr__(self) -> str:
        return f"CloudTokens(ttl={self.ttl}, live={len(self._by_access)})"

    def issue(self, now: float | None = None) -> IssuedToken:
        now = time.time() if now is None else now
        token = IssuedToken(secrets.token_hex(16), secrets.token_hex(16), now + self.ttl, self.ttl)
        self._by_access[token.access_token] = token
        self._by_refresh[token.refresh_token] = token
        while len(self._by_access) > self.max_tokens:
            _, old = self._by_access.popitem(last=False)
            self._by_refresh.pop(old.refresh_token, None)
        return token

    def valid(self, access_token: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        token = self._by_access.get(access_token)
        if token is None:
            return False
        if token.expires_at <= now:
            self._drop(token)
            return False
        return True

    def refresh(self, refresh_token: str, now: float | None = None) -> IssuedToken | None:
        """A new pair for a refresh token, which (with its access token) stops working."""
        token = self._by_refresh.get(refresh_token)
        if token is None:
            return None
        self._drop(token)
        return self.issue(now)

    def _drop(self, token: IssuedToken) -> None:
        self._by_access.pop(token.access_token, None)
        self._by_refresh.pop(token.refresh_token, None)
