"""State of the Tuya cloud emulator: settings, issued tokens, limits, injected faults, counters.

One :class:`CloudState` lives on the app object (``app.state.cloud``); there are no module
globals, so several emulators can run in one process. Tests drive the faults through the
methods here; other processes use ``POST /_sim/faults`` (see ``cloud_app``).
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tuyagate.cloud.codes import describe
from tuyagate.sim.app_mq import AppMq, AppMqSettings
from tuyagate.sim.app_state import AppSettings, AppState
from tuyagate.sim.cloud_devices import CloudDeviceBackend, CloudFleet, InMemoryBackend
from tuyagate.sim.cloud_errors import ApiError
from tuyagate.sim.cloud_pulsar import PulsarBroker
from tuyagate.sim.manifest import FleetManifest, ManifestDevice

__all__ = ["ApiError", "CloudConfig", "CloudState", "Faults", "IssuedToken", "TokenStore"]


@dataclass(slots=True)
class CloudConfig:
    """How the emulated cloud project behaves."""

    client_id: str
    secret: str = field(repr=False)
    uid: str = "az1700000000000emu01"  # the app account every device belongs to
    token_ttl: float = 7200.0  # seconds an access token lives
    t_window: float = 300.0  # accepted |server time - t| in seconds, else 1013
    allow_old_sign: bool = True  # accept the pre-2021 sign scheme too
    qps: float | None = None  # calls per second for the project (1199 above it)
    quota: int | None = None  # calls in total before 28841004 (the trial's monthly quota)
    max_commands: int = 20  # commands per call (1101 above it)
    app: AppSettings = field(default_factory=AppSettings)  # the Smart Life account of the app API
    app_mq: AppMqSettings | None = None  # the broker of the app's MQ (None: the config call fails)


@dataclass(slots=True)
class IssuedToken:
    access_token: str
    refresh_token: str
    expires_at: float  # server clock, seconds


class TokenStore:
    """Access tokens that expire; refresh tokens that work exactly once."""

    def __init__(self) -> None:
        self._by_access: dict[str, IssuedToken] = {}
        self._by_refresh: dict[str, IssuedToken] = {}

    def issue(self, now: float, ttl: float) -> IssuedToken:
        token = IssuedToken(secrets.token_hex(16), secrets.token_hex(16), now + ttl)
        self._by_access[token.access_token] = token
        self._by_refresh[token.refresh_token] = token
        return token

    def refresh(self, refresh_token: str, now: float, ttl: float) -> IssuedToken | None:
        """Spend a refresh token: the old pair is invalid afterwards. None when unknown or spent."""
        old = self._by_refresh.pop(refresh_token, None)
        if old is None:
            return None
        self._by_access.pop(old.access_token, None)
        return self.issue(now, ttl)

    def valid(self, access_token: str, now: float) -> bool:
        token = self._by_access.get(access_token)
        return token is not None and now < token.expires_at

    def expire_all(self, now: float) -> int:
        """Make every access token expire now (refresh tokens stay usable). Returns how many."""
        for token in self._by_access.values():
            token.expires_at = min(token.expires_at, now)
        return len(self._by_access)


class _Bucket:
    """Token bucket of ``rate`` calls per second with a capacity of ``rate`` (at least 1)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp: float | None = None

    def take(self, now: float) -> bool:
        if self.stamp is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class Faults:
    """Failures to inject. Counts are "the next N calls"; they go down as calls consume them."""

    latency: float = 0.0  # seconds added before every answer
    http_errors: int = 0  # the next N calls get HTTP ``http_status`` (no JSON)
    http_status: int = 503
    code_errors: int = 0  # the next N authenticated calls get ``success: false`` with ``error_code``
    error_code: int = 1199  # 1199 "too frequent" = the rate-limit fault
    clock_offset: float = 0.0  # the server's clock runs this many seconds ahead

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CloudState:
    """Everything the emulator knows and counts."""

    def __init__(
        self,
        config: CloudConfig,
        manifest: FleetManifest,
        *,
        backend: CloudDeviceBackend | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self.faults = Faults()
        self.tokens = TokenStore()
        self.stats: Counter[str] = Counter()
        self.fleet = CloudFleet(manifest, backend or InMemoryBackend(manifest), uid=config.uid, clock=self.now)
        self.app = AppState(config.app, uid=config.uid, token_ttl=config.token_ttl, clock=self.now)
        self.pulsar = PulsarBroker(config.client_id, config.secret, clock_ms=self.now_ms)  # the message service
        self.app_mq = AppMq(config.app_mq, account=config.uid, home_id=config.app.home_id, clock_ms=self.now_ms)
        self._bucket = _Bucket(config.qps) if config.qps else None
        self._calls = 0

    def now(self) -> float:
        """The server's clock in seconds (with the injected offset)."""
        return self._clock() + self.faults.clock_offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    # -- faults ----------------------------------------------------------------------------

    def expire_all_tokens(self) -> int:
        """Expire every access token now, the app sessions' too; the next call with one gets 1010."""
        self.stats["tokens_expired"] += 1
        return self.tokens.expire_all(self.now()) + self.app.expire_all()

    def fail_next(self, count: int, code: int = 1199) -> None:
        """The next ``count`` authenticated calls answer ``code`` (1199 = rate limited)."""
        self.faults.code_errors = count
        self.faults.error_code = code

    def http_error_next(self, count: int, status: int = 503) -> None:
        """The next ``count`` calls answer HTTP ``status``."""
        self.faults.http_errors = count
        self.faults.http_status = status

    def reset_faults(self) -> None:
        self.faults = Faults()
        self.pulsar.reset_faults()
        self.app_mq.reset_faults()

    def take_http_error(self) -> int | None:
        if self.faults.http_errors > 0:
            self.faults.http_errors -= 1
            self.stats["http_errors"] += 1
            return self.faults.http_status
        return None

    def take_code_error(self) -> ApiError | None:
        if self.faults.code_errors > 0:
            self.faults.code_errors -= 1
            self.stats["code_errors"] += 1
            return ApiError(self.faults.error_code, _message(self.faults.error_code))
        return None

    # -- limits ----------------------------------------------------------------------------

    def count_call(self) -> None:
        """Count an authenticated call against QPS and quota; raise ApiError when over."""
        if self.config.quota is not None and self._calls >= self.config.quota:
            self.stats["quota_refused"] += 1
            raise ApiError(28841004, _message(28841004))
        if self._bucket is not None and not self._bucket.take(self.now()):
            self.stats["qps_refused"] += 1
            raise ApiError(1199, _message(1199))
        self._calls += 1

    @property
    def calls(self) -> int:
        """Authenticated calls served (what counts against the quota)."""
        return self._calls

    def snapshot(self) -> dict[str, Any]:
        """Counters and faults, JSON-ready (``GET /_sim/stats``)."""
        return {
            "calls": self._calls,
            "counters": dict(self.stats),
            "faults": self.faults.to_dict(),
            "pulsar": self.pulsar.snapshot(),
            "app_mq": self.app_mq.snapshot(),
        }

    # -- what devices report ---------------------------------------------------------------

    def report_status(self, device: ManifestDevice, dps: dict[str, Any]) -> str:
        """A device reported ``dps``: published on the message service and the app MQ; the Pulsar id."""
        self.app_mq.status_report(device, dps)
        return self.pulsar.status_report(device, dps)

    def report_event(self, device: ManifestDevice, biz_code: str, biz_data: dict[str, Any] | None = None) -> str:
        """A device event (``online``, ``nameUpdate``, ``bindUser``, ``delete``...) on both; the Pulsar id."""
        self.app_mq.device_event(device, biz_code, biz_data)
        return self.pulsar.device_event(device, biz_code, biz_data)


def _message(code: int) -> str:
    info = describe(code)
    return info.msg if info else "error"
