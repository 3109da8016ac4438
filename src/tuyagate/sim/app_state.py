"""The emulated Smart Life account: pending QR logins, approved app sessions and their tokens.

One :class:`AppState` lives on the cloud emulator's state (``state.app``). A QR login goes
*pending* (``create_qr``), is *approved* (the emulated app: ``approve``, from
``POST /_sim/app-login/approve`` or at once with ``--app-login auto``), and is collected once by
the poll that then gets the session's tokens. A session's access token expires after the
configured lifetime; its refresh token works exactly once (the old pair is invalid afterwards, as
on the real cloud); ``revoke`` ends a session (the app's "remove this device" or the SDK's
``unload``), after which the cloud cannot even check that session's signatures.

The codes of the QR endpoints are the ones seen in the field: a QR login that is not approved yet,
and one that has expired, both answer ``E0020003``; a user code the account does not have answers
2406; a client id other than the one Tuya registered for this flow answers 1004 "sign invalid".
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from tuyagate.sim.cloud_errors import ApiError

__all__ = ["AppSession", "AppSettings", "AppState", "PendingLogin"]

PENDING_CODE = "E0020003"


@dataclass(slots=True)
class AppSettings:
    """How the emulated account behaves (``tuyagate sim cloud --app-login``, ``--user-code``)."""

    client_id: str = "HA_3y9q4ak7g4ephrvke"  # the id Tuya gave Home Assistant for this flow
    schema: str = "haauthorize"
    auto_approve: bool = False  # --app-login auto: a new QR login is approved at once
    user_codes: tuple[str, ...] = ()  # the codes the account's app shows; empty: any code is the account's
    username: str = "emulated.user@example.com"
    qr_ttl: float = 300.0  # seconds a QR login waits for approval
    home_id: str = "4200001"
    home_name: str = "Emulated home"


@dataclass(slots=True)
class PendingLogin:
    qr: str
    user_code: str = field(repr=False)
    created: float
    approved: bool = False


@dataclass(slots=True)
class AppSession:
    """One approved app login (a "terminal" of the account)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    terminal_id: str
    user_code: str = field(repr=False)
    expires_at: float  # server clock, seconds


class AppState:
    """Pending QR logins and app sessions; the server clock comes from the cloud state."""

    def __init__(self, settings: AppSettings, *, uid: str, token_ttl: float, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.uid = uid
        self.token_ttl = token_ttl
        self._clock = clock
        self.pending: dict[str, PendingLogin] = {}
        self._by_access: dict[str, AppSession] = {}
        self._by_refresh: dict[str, AppSession] = {}

    # -- the QR login ----------------------------------------------------------------------

    def create_qr(self, client_id: str, user_code: str, schema: str) -> str:
        """A new pending login; ApiError when the client id, schema or user code is not this account's."""
        self._check_client(client_id)
        if schema != self.settings.schema:
            raise ApiError(1109, "param is illegal, please check it")
        if not user_code or (self.settings.user_codes and user_code not in self.settings.user_codes):
            raise ApiError(2406, "skill id invalid")
        now = self._clock()
        self._drop_stale(now)
        qr = "AZ" + str(int(now * 1000)) + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
        self.pending[qr] = PendingLogin(qr, user_code, now, approved=self.settings.auto_approve)
        return qr

    def approve(self, qr: str | None = None) -> int:
        """Approve ``qr``, or every pending login when None (the user scanned and confirmed in the app)."""
        self._drop_stale(self._clock())
        targets = [self.pending[qr]] if qr is not None and qr in self.pending else []
        if qr is None:
            targets = list(self.pending.values())
        for login in targets:
            login.approved = True
        return len(targets)

    def collect(self, qr: str, client_id: str, user_code: str) -> AppSession:
        """The session of an approved login (once); ApiError ``E0020003`` while it waits or after it expired."""
        self._check_client(client_id)
        now = self._clock()
        self._drop_stale(now)
        login = self.pending.get(qr)
        if login is None or login.user_code != user_code:
            raise ApiError(PENDING_CODE, "the QR code has expired or is unknown")
        if not login.approved:
            raise ApiError(PENDING_CODE, "the login is not confirmed in the app yet")
        del self.pending[qr]
        return self._issue(login.user_code, "t" + secrets.token_hex(12), now)

    def _check_client(self, client_id: str) -> None:
        if client_id != self.settings.client_id:
            raise ApiError(1004, "sign invalid")

    def _drop_stale(self, now: float) -> None:
        for qr in [q for q, p in self.pending.items() if now - p.created > self.settings.qr_ttl]:
            del self.pending[qr]

    # -- sessions --------------------------------------------------------------------------

    def _issue(self, user_code: str, terminal_id: str, now: float) -> AppSession:
        session = AppSession(secrets.token_hex(16), secrets.token_hex(16), terminal_id, user_code, now + self.token_ttl)
        self._by_access[session.access_token] = session
        self._by_refresh[session.refresh_token] = session
        return session

    def by_access(self, access_token: str) -> AppSession | None:
        """The session an access token belongs to, expired or not; None when revoked or refreshed away."""
        return self._by_access.get(access_token)

    def by_refresh(self, refresh_token: str) -> AppSession | None:
        return self._by_refresh.get(refresh_token)

    def valid(self, session: AppSession) -> bool:
        return self._clock() < session.expires_at

    def refresh(self, refresh_token: str) -> AppSession | None:
        """Spend a refresh token: a new pair for the same terminal; the old pair stops working."""
        old = self._by_refresh.pop(refresh_token, None)
        if old is None:
            return None
        self._by_access.pop(old.access_token, None)
        return self._issue(old.user_code, old.terminal_id, self._clock())

    def revoke(self, terminal_id: str) -> int:
        """End every session of a terminal; returns how many."""
        gone = [s for s in self._by_access.values() if s.terminal_id == terminal_id]
        for session in gone:
            self._by_access.pop(session.access_token, None)
            self._by_refresh.pop(session.refresh_token, None)
        return len(gone)

    def revoke_all(self) -> int:
        count = len(self._by_access)
        self._by_access.clear()
        self._by_refresh.clear()
        return count

    def expire_all(self) -> int:
        """Make every access token expire now (refresh tokens stay usable)."""
        now = self._clock()
        for session in self._by_access.values():
            session.expires_at = min(session.expires_at, now)
        return len(self._by_access)

    @property
    def sessions(self) -> int:
        return len(self._by_access)
