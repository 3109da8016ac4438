"""TokenManager: caching, proactive refresh, fall back to login, one refresh for many callers."""

from __future__ import annotations

import asyncio

import pytest

from tests.cloud.conftest import FakeClock
from tuyagate.cloud.tokens import Token, TokenManager
from tuyagate.errors import CloudError, ProtocolError


class FakeAuth:
    def __init__(self, clock: FakeClock, lifetime: float = 7200.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.logins = 0
        self.refreshes: list[str] = []
        self.refuse_refresh = False
        self.spent: set[str] = set()

    def _token(self, n: str) -> Token:
        return Token(f"access-{n}", f"refresh-{n}", "uid", self.clock() + self.lifetime)

    async def login(self) -> Token:
        await asyncio.sleep(0.01)
        self.logins += 1
        return self._token(f"L{self.logins}")

    async def refresh(self, refresh_token: str) -> Token:
        await asyncio.sleep(0.01)
        if self.refuse_refresh or refresh_token in self.spent:
            raise CloudError(1010, "token invalid")
        self.spent.add(refresh_token)
        self.refreshes.append(refresh_token)
        return self._token(f"R{len(self.refreshes)}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def auth(clock: FakeClock) -> FakeAuth:
    return FakeAuth(clock)


def manager(auth: FakeAuth, clock: FakeClock, margin: float = 60.0) -> TokenManager:
    return TokenManager(auth.login, auth.refresh, margin=margin, clock=clock)


async def test_token_is_fetched_once_and_cached(auth: FakeAuth, clock: FakeClock) -> None:
    tokens = manager(auth, clock)
    first = await tokens.get()
    clock.advance(7000)
    assert await tokens.get() is first
    assert auth.logins == 1
    assert auth.refreshes == []


async def test_refresh_happens_margin_seconds_before_expiry(auth: FakeAuth, clock: FakeClock) -> None:
    tokens = manager(auth, clock, margin=300)
    first = await tokens.get()
    clock.advance(7200 - 301)
    assert await tokens.get() is first
    clock.advance(2)
    second = await tokens.get()
    assert second.access_token == "access-R1"
    assert auth.refreshes == ["refresh-L1"]
    assert (tokens.logins, tokens.refreshes) == (1, 1)


async def test_refresh_token_is_used_once_then_the_new_one(auth: FakeAuth, clock: FakeClock) -> None:
    tokens = manager(auth, clock)
    await tokens.get()
    for _ in range(3):
        clock.advance(7200)
        await tokens.get()
    assert auth.refreshes == ["refresh-L1", "refresh-R1", "refresh-R2"]
    assert auth.logins == 1


async def test_failed_refresh_falls_back_to_a_full_login(auth: FakeAuth, clock: FakeClock) -> None:
    tokens = manager(auth, clock)
    await tokens.get()
    auth.refuse_refresh = True
    clock.advance(7200)
    token = await tokens.get()
    assert token.access_token == "access-L2"
    assert tokens.refresh_failures == 1
    assert auth.logins == 2


async def test_hundred_concurrent_callers_at_expiry_cause_one_refresh(auth: FakeAuth, clock: FakeClock) -> None:
    tokens = manager(auth, clock)
    await tokens.get()
    clock.advance(7200)
    got = await asyncio.gather(*(tokens.get() for _ in range(100)))
    assert len({t.access_token for t in got}) == 1
    assert auth.refreshes == ["refresh-L1"]
    assert auth.logins == 1


async def test_hundred_concurrent_first_callers_cause_one_login(auth: FakeAuth, clock: FakeClock) -> None:
    tokens = manager(auth, clock)
    await asyncio.gather(*(tokens.get() for _ in range(100)))
    assert auth.logins == 1


async def test_invalidate_forces_a_login_but_only_for_the_stale_token(auth: FakeAuth, clock: FakeClock) -> None:
    tokens = manager(auth, clock)
    stale = await tokens.get()
    await tokens.invalidate(stale)
    fresh = await tokens.get()
    assert fresh.access_token == "access-L2"
    await tokens.invalidate(stale)  # a late caller with the old token changes nothing
    assert await tokens.get() is fresh
    assert auth.logins == 2


def test_token_repr_hides_secrets() -> None:
    token = Token("secret-access", "secret-refresh", "uid1", 1.0)
    assert "secret" not in repr(token)


def test_token_from_result() -> None:
    token = Token.from_result({"access_token": "a", "refresh_token": "r", "uid": "u", "expire_time": 6209}, now=100.0)
    assert token.expires_at == 6309.0
    old_style = Token.from_result({"access_token": "a", "expire": 10}, now=0.0)
    assert old_style.expires_at == 10.0
    with pytest.raises(ProtocolError):
        Token.from_result({"uid": "u"}, now=0.0)
