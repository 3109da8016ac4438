"""API tokens: created once, shown once, stored only as a hash; scopes; throttling of failed attempts.

A gateway that switches the heating on must not be open to the whole network. Tokens are random
32-byte strings; the store keeps their SHA-256 (a hash of a high-entropy random value needs no
salt or slow KDF), so a copied token file cannot be used to call the API. ``read`` tokens may look,
``control`` tokens may also change things. Repeated failures from one client IP are throttled so a
token cannot be guessed online. The store is a small interface so the registry can back it later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from tuyagate.errors import ConfigError, NotFoundError, ValidationError

__all__ = [
    "SCOPES",
    "FailureThrottle",
    "JsonTokenStore",
    "Scope",
    "TokenRecord",
    "TokenStore",
    "create_token",
    "hash_token",
    "revoke_token",
]

log = logging.getLogger(__name__)

Scope = Literal["read", "control"]
SCOPES: tuple[Scope, ...] = ("read", "control")
TOKEN_PREFIX = "tg_"


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def scope_allows(granted: str, needed: Scope) -> bool:
    return granted == "control" or granted == needed


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One API token as stored: never the token itself."""

    id: str
    name: str
    scope: str
    created_at: float
    hash: str = field(repr=False)

    def public(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "scope": self.scope, "created_at": self.created_at}


class TokenStore(Protocol):
    """Where token records live (a JSON file here; the registry may provide another)."""

    def list(self) -> list[TokenRecord]: ...

    def add(self, record: TokenRecord) -> None: ...

    def remove(self, token_id: str) -> bool: ...

    def find(self, token_hash: str) -> TokenRecord | None: ...


class JsonTokenStore:
    """Token records in one JSON file (mode 0600), re-read when another process changes it.

    ``tuyagate tokens create`` may run while the gateway is up; the gateway notices the new file
    within a second without a restart.
    """

    def __init__(self, path: Path, *, recheck_interval: float = 1.0) -> None:
        self.path = path
        self._recheck_interval = recheck_interval
        self._records: dict[str, TokenRecord] = {}
        self._by_hash: dict[str, TokenRecord] = {}
        self._mtime: float | None = None
        self._checked_at = float("-inf")

    def __repr__(self) -> str:
        return f"JsonTokenStore({str(self.path)!r}, tokens={len(self._records)})"

    def _refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < self._recheck_interval:
            return
        self._checked_at = now
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self._records, self._by_hash, self._mtime = {}, {}, None
            return
        if mtime == self._mtime and not force:
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            records = [TokenRecord(**item) for item in raw.get("tokens", [])]
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"token file {self.path} is unreadable: {exc.__class__.__name__}") from None
        self._records = {r.id: r for r in records}
        self._by_hash = {r.hash: r for r in records}
        self._mtime = mtime

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = json.dumps({"tokens": [asdict(r) for r in self._records.values()]}, indent=2)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, self.path)
        self._refresh(force=True)

    def list(self) -> list[TokenRecord]:
        self._refresh()
        return sorted(self._records.values(), key=lambda r: r.created_at)

    def add(self, record: TokenRecord) -> None:
        self._refresh(force=True)
        self._records[record.id] = record
        self._save()

    def remove(self, token_id: str) -> bool:
        self._refresh(force=True)
        if self._records.pop(token_id, None) is None:
            return False
        self._save()
        return True

    def find(self, token_hash: str) -> TokenRecord | None:
        self._refresh()
        return self._by_hash.get(token_hash)


def create_token(store: TokenStore, name: str, scope: str = "control") -> tuple[TokenRecord, str]:
    """Create a token; returns its record and the plaintext, which is never stored or shown again."""
    if scope not in SCOPES:
        raise ValidationError(f"token scope must be one of {', '.join(SCOPES)} (got {scope!r})")
    if not name or len(name) > 64:
        raise ValidationError("token name must be 1..64 characters")
    if any(r.name == name for r in store.list()):
        raise ValidationError(f"a token named {name!r} already exists; revoke it first or pick another name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = TokenRecord(
        id=secrets.token_hex(4), name=name, scope=scope, created_at=time.time(), hash=hash_token(token)
    )
    store.add(record)
    log.info("created API token %s (%s, scope %s)", record.id, record.name, record.scope)
    return record, token


def revoke_token(store: TokenStore, id_or_name: str) -> TokenRecord:
    """Remove a token by id or name."""
    for record in store.list():
        if id_or_name in (record.id, record.name):
            store.remove(record.id)
            log.info("revoked API token %s (%s)", record.id, record.name)
            return record
    raise NotFoundError(f"no API token with id or name {id_or_name!r}")


class FailureThrottle:
    """Counts failed authentications per client IP in a sliding window; bounded in memory."""

    def __init__(self, max_failures: int, window: float, *, max_clients: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def retry_after(self, client: str, now: float | None = None) -> float:
        """Seconds this client must wait, or 0 when it may try."""
        now = time.monotonic() if now is None else now
        times = self._recent(client, now)
        if times is None or len(times) < self.max_failures:
            return 0.0
        return max(0.0, self.window - (now - times[0]))

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        times = self._recent(client, now)
        if times is None:
            times = self._failures[client] = deque(maxlen=self.max_failures)
        times.append(now)
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)
