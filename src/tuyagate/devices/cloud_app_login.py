"""The stored Smart Life app login (``tuyagate cloud login --app``): references in the registry, secrets in the vault.

It takes the registry's one ``cloud`` setting, as the developer login does (one login at a time:
saving either replaces the other, see :mod:`tuyagate.devices.cloud_login`). The setting holds
``kind: "app"``, the account's endpoint, the user name and uid, and the endpoint the QR login went
to when it was not Tuya's (an emulator) with its CA file; the vault holds the token pair, the user
code and the terminal id. A token the SDK refreshes is saved at once
(:func:`app_client_for` wires that up): a refresh token works once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuyagate.cloud.app_login import APP_CLIENT_ID, AppLogin, AppToken
from tuyagate.devices.cloud_login import (
    CLOUD_ACCESS_TOKEN,
    CLOUD_REFRESH_TOKEN,
    CLOUD_SECRET,
    CLOUD_SETTING,
)
from tuyagate.devices.registry import Registry
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError, ProtocolError

if TYPE_CHECKING:  # the SDK (the app extra) loads only when a client is made
    from tuyagate.cloud.app_client import AppCloudClient

__all__ = [
    "APP_SECRETS",
    "APP_TOKEN",
    "StoredAppLogin",
    "app_client_for",
    "load_app_login",
    "save_app_login",
    "save_app_token",
]

APP_TOKEN = "cloud/app_token"  # the token pair and its times, as JSON
APP_SESSION = "cloud/app_session"  # the user code and the terminal id, as JSON
APP_SECRETS = (APP_TOKEN, APP_SESSION)


@dataclass(frozen=True, slots=True)
class StoredAppLogin:
    """An app login read back: the login, and where its QR login went (None: Tuya's login host)."""

    login: AppLogin
    login_url: str | None = None
    ca_bundle: str | None = None


def save_app_login(
    registry: Registry, vault: Vault, login: AppLogin, *, login_url: str | None = None, ca_bundle: str | None = None
) -> None:
    """Store an approved app login, replacing any other login (a developer project's secret included)."""
    setting = {
        "kind": "app",
        "endpoint": login.endpoint,
        "username": login.username,
        "uid": login.token.uid,
        "client_id": login.client_id,
        "login_url": login_url,
        "ca_bundle": ca_bundle,
        "token": APP_TOKEN,
        "session": APP_SESSION,
    }
    session = json.dumps({"user_code": login.user_code, "terminal_id": login.terminal_id})
    with registry.db.transaction():
        for name in (CLOUD_SECRET, CLOUD_ACCESS_TOKEN, CLOUD_REFRESH_TOKEN):
            vault.delete(name)
        vault.put(APP_TOKEN, login.token.to_json())
        vault.put(APP_SESSION, session)
        registry.set_setting(CLOUD_SETTING, setting)


def save_app_token(registry: Registry, vault: Vault, token: AppToken) -> None:
    """Replace the stored token pair (after the SDK refreshed it); the login must still be the app login."""
    setting = registry.get_setting(CLOUD_SETTING)
    if not isinstance(setting, Mapping) or setting.get("kind") != "app":
        return  # the login was replaced meanwhile: this token belongs to nothing stored
    with registry.db.transaction():
        vault.put(str(setting.get("token") or APP_TOKEN), token.to_json())


def load_app_login(registry: Registry, vault: Vault) -> StoredAppLogin | None:
    """The stored app login, or None when the stored login is none or a developer project's.

    A login whose secrets are missing or damaged in the vault is a ConfigError saying to log in again.
    """
    setting = registry.get_setting(CLOUD_SETTING)
    if not isinstance(setting, Mapping) or setting.get("kind") != "app":
        return None
    token_text = vault.get(str(setting.get("token") or APP_TOKEN))
    session_text = vault.get(str(setting.get("session") or APP_SESSION))
    try:
        if token_text is None or session_text is None:
            raise ProtocolError("the vault lacks the app login's tokens")
        session: Any = json.loads(session_text)
        if not isinstance(session, Mapping):
            raise ProtocolError("the stored app session is not an object")
        login = AppLogin(
            user_code=str(session.get("user_code") or ""),
            terminal_id=str(session.get("terminal_id") or ""),
            endpoint=str(setting.get("endpoint") or ""),
            username=str(setting.get("username") or ""),
            token=AppToken.from_json(token_text),
            client_id=str(setting.get("client_id") or APP_CLIENT_ID),
        )
    except (ProtocolError, ValueError) as exc:
        raise ConfigError(
            f"the stored Smart Life app login is damaged ({exc}): log in again with `tuyagate cloud login --app`"
        ) from None
    return StoredAppLogin(login, setting.get("login_url") or None, setting.get("ca_bundle") or None)


def app_client_for(
    registry: Registry, vault: Vault, stored: StoredAppLogin, *, timeout: float = 10.0
) -> AppCloudClient:
    """A client of the app API for the stored login; every token it refreshes is saved right away."""
    from tuyagate.cloud.app_client import AppCloudClient

    return AppCloudClient(
        stored.login,
        ca_bundle=stored.ca_bundle,
        timeout=timeout,
        on_token=lambda token: save_app_token(registry, vault, token),
    )
