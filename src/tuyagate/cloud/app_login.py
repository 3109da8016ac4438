"""The Smart Life / Tuya Smart app login: a QR code the app approves, no developer account.

This is the login Home Assistant's own Tuya integration does, through Tuya's official
``tuya-device-sharing-sdk`` (the ``app`` extra), not a re-implementation of it:

1. the user reads the *user code* in the app (Me > Settings > Account and Security > User Code);
2. ``POST /v1.0/m/life/home-assistant/qrcode/tokens`` (the SDK's ``LoginControl.qr_code``) gives a
   QR token; the QR code shows ``tuyaSmart--qrLogin?token=<token>``;
3. the user scans it with the app and approves; until then ``GET .../qrcode/tokens/<token>``
   (``LoginControl.login_result``) answers ``success: false``;
4. then it answers the login: terminal id, the regional endpoint of the account and the tokens.

Everything here is plain data and stdlib at import time; the SDK (and requests under it) is
imported on first use, so ``tuyagate.cloud`` stays light. The SDK is synchronous: each call runs in
a worker thread, behind :mod:`tuyagate.cloud.app_http`, which points it at another endpoint
(``base_url``, e.g. the emulator), trusts a given CA, caps every request's time and turns HTTP and
network failures into tuyagate's errors. Tokens and the user code never appear in a ``repr``, a log
line or an error.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuyagate.deadline import Deadline
from tuyagate.errors import CloudError, ConfigError, ProtocolError, TuyaTimeoutError

if TYPE_CHECKING:
    from tuyagate.cloud.app_http import AppSession

__all__ = [
    "APP_CLIENT_ID",
    "APP_LOGIN_URL",
    "APP_SCHEMA",
    "QR_PREFIX",
    "AppLogin",
    "AppLoginFlow",
    "AppToken",
    "QrChallenge",
    "check_user_code",
]

# Home Assistant's client id and schema for this flow (the SDK's callers pass them; Tuya answers
# "sign invalid" to any other id). The login host is the SDK's own, fixed there.
APP_CLIENT_ID = "HA_3y9q4ak7g4ephrvke"
APP_SCHEMA = "haauthorize"
APP_LOGIN_URL = "https://apigw.iotbing.com"
QR_PREFIX = "tuyaSmart--qrLogin?token="
POLL_INTERVAL = 2.0
_USER_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_USER_CODE_HINT = "the user code is shown in the Smart Life app under Me > Settings > Account and Security > User Code"


def check_user_code(code: str) -> str:
    """The user code, stripped; a ConfigError (naming where to find it, not echoing it) if it cannot be one.

    The SDK puts the code into the URL unescaped, so only letters, digits, ``_`` and ``-`` pass.
    """
    code = code.strip()
    if not _USER_CODE.fullmatch(code):
        raise ConfigError(f"that is not a user code: {_USER_CODE_HINT}")
    return code


@dataclass(frozen=True, slots=True)
class AppToken:
    """The app login's tokens, in the shape the SDK keeps them (``t`` in ms, ``expire_time`` in s)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    uid: str = ""
    t: int = 0  # the server's clock when the token was issued, ms
    expire_time: int = 0  # lifetime from ``t``, seconds

    @property
    def expires_at_ms(self) -> int:
        """When the access token expires, on the server's clock (ms); the SDK refreshes 60 s before."""
        return self.t + self.expire_time * 1000

    def token_info(self) -> dict[str, Any]:
        """The ``token_response`` the SDK's ``Manager`` takes."""
        return {
            "t": self.t,
            "uid": self.uid,
            "expire_time": self.expire_time,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
        }

    @classmethod
    def from_token_info(cls, info: Mapping[str, Any]) -> AppToken:
        """From the SDK's token dict (the login result, or what its token listener hands over)."""
        if not info.get("access_token") or not info.get("refresh_token"):
            raise ProtocolError("the app login answer has no access or refresh token")
        try:
            return cls(
                access_token=str(info["access_token"]),
                refresh_token=str(info["refresh_token"]),
                uid=str(info.get("uid") or ""),
                t=int(info.get("t") or 0),
                expire_time=int(info.get("expire_time") or 0),
            )
        except (TypeError, ValueError) as exc:
            raise ProtocolError(f"the app login answer has a malformed token time: {exc}") from None

    def to_json(self) -> str:
        """One string for the vault (it holds secrets: never log it)."""
        return json.dumps(self.token_info(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> AppToken:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError("the stored app token is not JSON") from exc
        if not isinstance(data, Mapping):
            raise ProtocolError("the stored app token is not an object")
        return cls.from_token_info(data)


@dataclass(frozen=True, slots=True)
class AppLogin:
    """An approved app login: what ``Manager`` needs to act for the account."""

    user_code: str = field(repr=False)
    terminal_id: str = field(repr=False)
    endpoint: str  # the account's regional API, e.g. https://apigw.tuyaeu.com
    username: str
    token: AppToken
    client_id: str = APP_CLIENT_ID

    @classmethod
    def from_result(cls, result: Mapping[str, Any], *, user_code: str, client_id: str = APP_CLIENT_ID) -> AppLogin:
        """From ``login_result``'s answer (the SDK copies the envelope's ``t`` into it)."""
        endpoint = str(result.get("endpoint") or "").rstrip("/")
        if not endpoint.startswith(("https://", "http://")):
            raise ProtocolError("the app login answer names no endpoint")
        return cls(
            user_code=user_code,
            terminal_id=str(result.get("terminal_id") or ""),
            endpoint=endpoint,
            username=str(result.get("username") or ""),
            token=AppToken.from_token_info(result),
            client_id=client_id,
        )


@dataclass(frozen=True, slots=True)
class QrChallenge:
    """A pending login: the QR token, and the text its QR code carries."""

    token: str = field(repr=False)

    @property
    def payload(self) -> str:
        return QR_PREFIX + self.token


class AppLoginFlow:
    """The QR login, step by step: ``start()``, show ``challenge.payload`` as a QR code, ``wait()``.

    ``base_url`` replaces the SDK's login host (an emulator); ``ca_bundle`` is a CA file to trust
    (the emulator's certificate); ``timeout`` caps each HTTP request. Calls are made one at a time.
    """

    def __init__(
        self,
        user_code: str,
        *,
        base_url: str | None = None,
        ca_bundle: str | None = None,
        timeout: float = 10.0,
        client_id: str = APP_CLIENT_ID,
        schema: str = APP_SCHEMA,
    ) -> None:
        from tuyagate.cloud.app_http import AppSession

        self.user_code = check_user_code(user_code)
        self.client_id = client_id
        self.schema = schema
        self.login_url = (base_url or APP_LOGIN_URL).rstrip("/")
        self._http: AppSession = AppSession(login_url=base_url, ca_bundle=ca_bundle, timeout=timeout)
        self._control: Any = None
        self._lock = asyncio.Lock()
        self.last_answer: tuple[Any, str] | None = None  # (code, msg) of the last "not yet" poll

    def __repr__(self) -> str:
        return f"AppLoginFlow(login_url={self.login_url!r})"

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    def _login_control(self) -> Any:
        if self._control is None:
            from tuyagate.cloud.app_http import load_sdk

            self._control = load_sdk().LoginControl()
            self._http.adopt(self._control.session)
        return self._control

    async def _call(self, fn: Callable[..., Any], *args: Any, deadline: Deadline | None = None) -> Any:
        async with self._lock:
            with self._http.limited(deadline):
                try:
                    return await asyncio.to_thread(fn, *args)
                except ValueError:  # the SDK's response.json() on an answer that is not JSON
                    pass  # raised below, outside the handler: no chain to the SDK's frames
        raise ProtocolError(f"the login endpoint {self.login_url} answered with something that is not JSON")

    async def start(self, *, deadline: Deadline | None = None) -> QrChallenge:
        """Ask for a QR token for the user code; CloudError when the cloud refuses the code."""
        control = self._login_control()
        answer = await self._call(control.qr_code, self.client_id, self.schema, self.user_code, deadline=deadline)
        if not isinstance(answer, Mapping):
            raise ProtocolError("the QR token answer is not a JSON object")
        result = answer.get("result")
        if not answer.get("success") or not isinstance(result, Mapping) or not result.get("qrcode"):
            raise CloudError(
                str(answer.get("code", "?")), str(answer.get("msg") or "no QR token"), hint=_USER_CODE_HINT
            )
        return QrChallenge(token=str(result["qrcode"]))

    async def poll(self, challenge: QrChallenge, *, deadline: Deadline | None = None) -> AppLogin | None:
        """One look: the login once the app approved it, else None (``last_answer`` says what the cloud said)."""
        control = self._login_control()
        done, info = await self._call(
            control.login_result, challenge.token, self.client_id, self.user_code, deadline=deadline
        )
        if done and isinstance(info, Mapping):
            return AppLogin.from_result(info, user_code=self.user_code, client_id=self.client_id)
        if isinstance(info, Mapping):
            self.last_answer = (info.get("code"), str(info.get("msg") or ""))
        return None

    async def wait(
        self,
        challenge: QrChallenge,
        deadline: Deadline,
        *,
        interval: float = POLL_INTERVAL,
        progress: Callable[[float], None] | None = None,
    ) -> AppLogin:
        """Poll every ``interval`` s until the app approves; TuyaTimeoutError at ``deadline``.

        ``progress`` gets the seconds left before each poll.
        """
        while True:
            if progress is not None:
                progress(max(0.0, deadline.remaining()))
            try:
                login = await self.poll(challenge, deadline=deadline)
            except TuyaTimeoutError:
                if not deadline.expired():
                    raise
                login = None
            if login is not None:
                return login
            if deadline.expired():
                said = f" (last answer: {self.last_answer[1]})" if self.last_answer and self.last_answer[1] else ""
                raise TuyaTimeoutError(
                    "the login was not approved in the app in time" + said + "; run the command again for a new QR code"
                )
            await asyncio.sleep(min(interval, deadline.remaining()))

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()
