"""The Smart Life app API for one approved login, through the SDK's ``Manager`` (the ``app`` extra).

:class:`AppCloudClient` gives the sync what :class:`~tuyagate.cloud.client.TuyaCloudClient` gives
it from a developer project: ``devices()``, ``specification(id)``, ``sub_devices(id)`` and
``requests_sent``; plus ``homes()``, ``send_commands`` and ``revoke()``. The SDK does the app API's
request protection (AES-GCM ``encdata``, ``X-sign``) and its token refresh; this class

* runs each SDK call in a worker thread, one at a time (the SDK's session and refresh flag are
  not made for concurrent calls: two calls refreshing at once would spend one refresh token twice);
* hands every token the SDK refreshed to ``on_token`` (the caller saves it: a refresh token works
  once, so a refreshed token that is not saved ends the login);
* when the cloud expires a token early (1010/1011/1012), makes the SDK refresh and retries once;
* turns the SDK's errors into tuyagate's: a login the cloud no longer accepts (``sign invalid``:
  it cannot check the signature without the refresh token it revoked, the case Home Assistant
  re-authenticates on) is a CloudAuthError that says to log in again.

A specification combines the SDK's two calls per device: the standard instruction set
(``/v1.1/m/life/{id}/specifications``: codes, types, ranges) and the local strategy
(``/v1.0/m/life/devices/{id}/status``: which DP id carries which code), so the schema has DP ids.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag

from tuyagate.cloud import codes
from tuyagate.cloud.app_http import AppSession, load_sdk, redact
from tuyagate.cloud.app_login import AppLogin, AppToken
from tuyagate.cloud.models import GATEWAY_CATEGORIES, CloudDevice, Specification, StatusItem, SubDevice
from tuyagate.deadline import Deadline
from tuyagate.errors import CloudAuthError, CloudError, ProtocolError, TuyaError

__all__ = ["RELOGIN_HINT", "AppCloudClient"]

RELOGIN_HINT = "the Smart Life app login has expired or was revoked: log in again with `tuyagate cloud login --app`"
_REVOKED = {"1004"}  # sign invalid: the cloud no longer knows the refresh token the signature is keyed with
_EXPIRED = {"1010", "1011", "1012"}  # token expired / invalid: one forced refresh may cure it
_MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError, InvalidTag)
HOME_DEVICES = "/v1.0/m/life/ha/home/devices"
DEVICE_DETAIL = "/v1.0/m/life/ha/devices/detail"
COMMANDS = "/v1.1/m/thing/{id}/commands"
MQ_CONFIG = "/v1.0/m/life/ha/access/config"


class _TokenListener:
    """The SDK's ``SharingTokenListener`` duck: keeps the newest refreshed token for the loop thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, Any] | None = None

    def update_token(self, token_info: dict[str, Any]) -> None:  # called by the SDK, in a worker thread
        with self._lock:
            self._pending = dict(token_info)

    def take(self) -> dict[str, Any] | None:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending


class AppCloudClient:
    """Async client of the app API for ``login``; ``async with AppCloudClient(login) as app: ...``.

    ``ca_bundle`` is a CA file to trust (an emulator's certificate); ``timeout`` caps each request.
    ``on_token`` is called, on the event loop's thread, with every token the SDK refreshed.
    """

    def __init__(
        self,
        login: AppLogin,
        *,
        ca_bundle: str | None = None,
        timeout: float = 10.0,
        on_token: Callable[[AppToken], None] | None = None,
    ) -> None:
        sdk = load_sdk()
        self.base_url = login.endpoint
        self.username = login.username
        self.token = login.token
        self._on_token = on_token
        self._http = AppSession(ca_bundle=ca_bundle, timeout=timeout)
        self._listener = _TokenListener()
        self._manager: Any = sdk.Manager(
            login.client_id,
            login.user_code,
            login.terminal_id,
            login.endpoint,
            login.token.token_info(),
            self._listener,
        )
        self._api: Any = self._manager.customer_api
        self._http.adopt(self._api.session)
        self._sdk_error: type[BaseException] = sdk.exceptions.ApiRequestException
        self._lock = asyncio.Lock()
        self._home_of: dict[str, str] = {}
        self._listed: dict[str, CloudDevice] = {}

    def __repr__(self) -> str:
        return f"AppCloudClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> AppCloudClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    # -- calling the SDK ---------------------------------------------------------------------

    def _save_refreshed(self) -> bool:
        info = self._listener.take()
        if info is None:
            return False
        self.token = AppToken.from_token_info(info)
        if self._on_token is not None:
            self._on_token(self.token)
        return True

    async def _run(self, fn: Callable[..., Any], args: Sequence[Any], deadline: Deadline | None) -> Any:
        with self._http.limited(deadline):
            try:
                return await asyncio.to_thread(fn, *args)
            finally:
                self._save_refreshed()

    async def _call(self, what: str, fn: Callable[..., Any], *args: Any, deadline: Deadline | None = None) -> Any:
        """``fn(*args)`` in a worker thread, with the error translation and the one forced refresh.

        The translated error is raised outside the ``except`` block: chained to the SDK's exception it
        would keep the SDK's frames, and with them its last response and that response's socket, alive.
        """
        async with self._lock:
            for attempt in (0, 1):
                failure: TuyaError
                try:
                    return await self._run(fn, args, deadline)
                except TuyaError:
                    raise
                except self._sdk_error as exc:
                    code = str(getattr(exc, "error_code", ""))
                    msg = str(getattr(exc, "error_message", "")) or "error"
                except _MALFORMED as exc:  # a malformed or undecryptable answer: the SDK fails inside it
                    code, msg = "", type(exc).__name__
                if not code:
                    failure = ProtocolError(f"the app API answered {what} unexpectedly ({msg})")
                elif code in _EXPIRED and attempt == 0 and await self._force_refresh(deadline):
                    continue
                elif code in _REVOKED or code in _EXPIRED:
                    failure = CloudAuthError(code, msg, hint=RELOGIN_HINT)
                else:
                    failure = codes.cloud_error(code, msg)
                raise failure
            raise AssertionError("unreachable")  # pragma: no cover

    async def _force_refresh(self, deadline: Deadline | None) -> bool:
        """Make the SDK spend the refresh token now (the cloud refused a token the SDK thought valid)."""
        self._api.token_info.expire_time = 0
        await self._run(self._api.refresh_access_token_if_need, (), deadline)
        return bool(self._api.token_info.expire_time != 0)

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        envelope = await self._call(redact(path), self._api.get, path, dict(params) if params else None)
        if not isinstance(envelope, Mapping):
            raise ProtocolError(f"the app API answered {redact(path)} with something that is not an object")
        return envelope.get("result")

    # -- what the sync and the CLI use -----------------------------------------------------------

    async def homes(self) -> list[tuple[str, str]]:
        """``(home id, name)`` of every home of the account."""
        homes = await self._call("the homes", self._manager.home_repository.query_homes)
        return [(str(h.id), str(h.name)) for h in homes]

    async def devices(self) -> list[CloudDevice]:
        """Every device of every home, with its local key; a device shared into two homes counts once."""
        found: dict[str, CloudDevice] = {}
        for home_id, _name in await self.homes():
            result = await self._get(HOME_DEVICES, {"homeId": home_id})
            for item in result or ():
                if isinstance(item, Mapping) and item.get("id") and str(item["id"]) not in found:
                    device = CloudDevice.from_api(item)
                    found[device.id] = device
                    self._home_of[device.id] = home_id
        self._listed = found
        return list(found.values())

    async def sub_devices(self, gateway_id: str) -> list[SubDevice]:
        """The sub-devices of a gateway, as far as the app API tells: it has no call for it.

        A device object names its node id (``node_id``) but not always its gateway, so the
        sub-devices of a home that has exactly one gateway are that gateway's; with two or more,
        nothing is claimed (the sync then warns). Needs ``devices()`` first.
        """
        home = self._home_of.get(gateway_id)
        in_home = [d for d in self._listed.values() if self._home_of.get(d.id) == home]
        gateways = [d for d in in_home if not d.sub and d.category in GATEWAY_CATEGORIES]
        if home is None or [g.id for g in gateways] != [gateway_id]:
            return []
        return [
            SubDevice(
                id=d.id, name=d.name, online=d.online, category=d.category, product_id=d.product_id, node_id=d.node_id
            )
            for d in in_home
            if d.sub and not d.gateway_id
        ]

    async def specification(self, device_id: str) -> Specification:
        """The device's codes, types and ranges, with DP ids from its local strategy."""
        sdk = load_sdk()
        shell = sdk.CustomerDevice(id=device_id)
        repo = self._manager.device_repository
        await self._call("the specification", repo.update_device_specification, shell)
        await self._call("the local strategy", repo.update_device_strategy_info, shell)
        listed = self._listed.get(device_id)
        return _specification(shell, listed.category if listed else "")

    async def status(self, device_id: str, *, deadline: Deadline | None = None) -> list[StatusItem]:
        """The device's reported values by code, from the app API's device details (the router's cloud route)."""
        envelope = await self._call(
            "the device status", self._api.get, DEVICE_DETAIL, {"devIds": device_id}, deadline=deadline
        )
        result = envelope.get("result") if isinstance(envelope, Mapping) else None
        for item in result if isinstance(result, list) else ():
            if isinstance(item, Mapping) and str(item.get("id")) == device_id:
                return list(CloudDevice.from_api(item).status)
        raise CloudError(1106, "permission deny", hint="the app account does not see this device")

    async def send_commands(
        self,
        device_id: str,
        commands: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        deadline: Deadline | None = None,
    ) -> None:
        """``{"code": value}`` or ``[{"code", "value"}]`` through the app API (the SDK's command call,
        without its filter that drops a repeat of the same command within 10 s)."""
        if isinstance(commands, Mapping):
            items = [{"code": str(k), "value": v} for k, v in commands.items()]
        else:
            items = [{"code": str(c["code"]), "value": c.get("value")} for c in commands]
        path = COMMANDS.format(id=device_id)
        envelope = await self._call("the command", self._api.post, path, None, {"commands": items}, deadline=deadline)
        if not isinstance(envelope, Mapping) or envelope.get("result") is not True:
            raise CloudError(1103, "commands issue error", hint="the cloud did not accept the command")

    async def mq_config(self) -> Any:
        """The app MQ's broker, login and topics (``result`` of the SDK's config call; a fresh client id each
        time): what :class:`~tuyagate.cloud.app_mq.AppMqConsumer` connects with."""
        body = {"linkId": f"tuyagate.{uuid.uuid4()}"}
        envelope = await self._call("the MQ config", self._api.post, MQ_CONFIG, None, body)
        if not isinstance(envelope, Mapping) or not isinstance(envelope.get("result"), Mapping):
            raise ProtocolError("the app API answered the MQ config with something that is not an object")
        return dict(envelope["result"])

    async def revoke(self) -> None:
        """End this login on the server (the SDK's ``unload``: the terminal's token expires)."""
        await self._call("the logout", self._manager.unload)


def _specification(device: Any, category: str) -> Specification:
    """Merge the SDK's ``function``/``status_range`` with ``local_strategy`` (DP id -> status code)."""
    strategy: Mapping[Any, Mapping[str, Any]] = getattr(device, "local_strategy", None) or {}
    dp_of: dict[str, int] = {}
    for dp_id, entry in strategy.items():
        code = str(entry.get("status_code") or "")
        if code and str(dp_id).isdigit():
            dp_of.setdefault(code, int(dp_id))

    def entries(table: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "code": code,
                "type": getattr(item, "type", ""),
                "values": getattr(item, "values", "") or "",
                "name": getattr(item, "name", "") or "",
                "desc": getattr(item, "desc", "") or "",
                "dp_id": dp_of.get(code),
            }
            for code, item in table.items()
        ]

    functions = entries(getattr(device, "function", None) or {})
    status = entries(getattr(device, "status_range", None) or {})
    described = {e["code"] for e in functions + status}
    for dp_id, entry in strategy.items():  # DPs the standard set does not describe: the strategy's own type
        code = str(entry.get("status_code") or "")
        if code and code not in described and str(dp_id).isdigit():
            config = entry.get("config_item") or {}
            status.append(
                {
                    "code": code,
                    "type": str(config.get("valueType") or ""),
                    "values": config.get("valueDesc") or "",
                    "dp_id": int(dp_id),
                }
            )
            described.add(code)
    return Specification.from_api({"category": category, "functions": functions, "status": status})
