"""The stored Tuya cloud login: the project's Access ID and endpoint in the registry, its secret in the vault.

There is one stored login at a time, in the registry's ``cloud`` setting, of one of two kinds
(:func:`login_kind`): a developer project (``tuyagate cloud login``, this module) or the Smart Life
app login (``tuyagate cloud login --app``, :mod:`tuyagate.devices.cloud_app_login`); saving one
replaces the other. :func:`cloud_source_for` gives ``tuyagate cloud sync`` whichever is stored.

``tuyagate cloud login`` saves with :func:`save_cloud_login`; every later command finds it through
:func:`stored_login_loader`, which plugs into :func:`tuyagate.cloud.credentials.resolve_credentials`
as its ``stored`` hook. The registry's ``cloud`` setting holds only references to the vault's names,
never a secret. Tokens the token manager wants to keep across restarts go to the vault under
:data:`CLOUD_ACCESS_TOKEN` and :data:`CLOUD_REFRESH_TOKEN`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices import paths
from tuyagate.devices.registry import Registry
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError

if TYPE_CHECKING:  # httpx loads only when a client is made
    from tuyagate.cloud.app_client import AppCloudClient
    from tuyagate.cloud.client import TuyaCloudClient
    from tuyagate.devices.cloud_sync import CloudSource
    from tuyagate.devices.routes import CloudApi

__all__ = [
    "CLOUD_ACCESS_TOKEN",
    "CLOUD_REFRESH_TOKEN",
    "CLOUD_SECRET",
    "CLOUD_SETTING",
    "LoginKind",
    "cloud_client_for",
    "cloud_route_client",
    "cloud_source_for",
    "forget_cloud_login",
    "load_cloud_login",
    "login_kind",
    "save_cloud_login",
    "stored_login_loader",
]

_LOGGER = logging.getLogger(__name__)
CLOUD_SETTING = "cloud"
CLOUD_SECRET = "cloud/secret"
CLOUD_ACCESS_TOKEN = "cloud/access_token"
CLOUD_REFRESH_TOKEN = "cloud/refresh_token"
LoginKind = Literal["developer", "app"]


def save_cloud_login(registry: Registry, vault: Vault, creds: CloudCredentials) -> None:
    """Store a login (replacing any other, an app login too) in one transaction; older tokens are dropped."""
    from tuyagate.devices.cloud_app_login import APP_SECRETS

    setting = {
        "kind": "developer",
        "client_id": creds.client_id,
        "region": creds.region,
        "base_url": creds.base_url,
        "ca_bundle": creds.ca_bundle,
        "secret": CLOUD_SECRET,
    }
    with registry.db.transaction():
        vault.put(CLOUD_SECRET, creds.secret)
        for name in (CLOUD_ACCESS_TOKEN, CLOUD_REFRESH_TOKEN, *APP_SECRETS):
            vault.delete(name)
        registry.set_setting(CLOUD_SETTING, setting)


def login_kind(registry: Registry) -> LoginKind | None:
    """Which login is stored: a developer project's, the Smart Life app's, or none."""
    setting: Any = registry.get_setting(CLOUD_SETTING)
    if not isinstance(setting, Mapping):
        return None
    if setting.get("kind") == "app":
        return "app"
    return "developer" if setting.get("client_id") else None


def load_cloud_login(registry: Registry, vault: Vault) -> CloudCredentials | None:
    """The stored developer login, or None when there is none (or the stored login is the app's)."""
    setting = registry.get_setting(CLOUD_SETTING)
    if login_kind(registry) != "developer" or not isinstance(setting, Mapping):
        return None
    secret = vault.get(str(setting.get("secret") or CLOUD_SECRET))
    if secret is None:
        return None
    return CloudCredentials(
        client_id=str(setting["client_id"]),
        secret=secret,
        region=setting.get("region") or None,
        base_url=setting.get("base_url") or None,
        ca_bundle=setting.get("ca_bundle") or None,
    )


def forget_cloud_login(registry: Registry, vault: Vault) -> bool:
    """Remove the stored login (of either kind) and its tokens; False if there was none."""
    from tuyagate.devices.cloud_app_login import APP_SECRETS

    with registry.db.transaction():
        had = registry.delete_setting(CLOUD_SETTING)
        for name in (CLOUD_SECRET, CLOUD_ACCESS_TOKEN, CLOUD_REFRESH_TOKEN, *APP_SECRETS):
            had = vault.delete(name) or had
    return had


def stored_login_loader(
    directory: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Callable[[], CloudCredentials | None]:
    """A ``stored`` hook for ``resolve_credentials``: opens the data directory only when called.

    Finds nothing (None) when the data directory has no database yet, rather than creating one.
    """

    def load() -> CloudCredentials | None:
        where = paths.resolve_data_dir(directory, env=env)
        if not paths.db_path(where).exists():
            return None
        with Registry.open(where) as registry:
            return load_cloud_login(registry, Vault.open(registry.db, where, env=env))

    return load


def cloud_client_for(
    registry: Registry,
    vault: Vault,
    given: CloudCredentials | None = None,
    *,
    timeout: float = 10.0,
    old_sign: bool = False,
) -> TuyaCloudClient | None:
    """A cloud client from ``given``, the ``TUYAGATE_CLOUD_*`` environment or the stored login, in that
    order; None when none of them names a login at all, so callers run LAN-only.

    A half-given login (an id without a secret, no endpoint) is a ConfigError naming what is missing.
    """
    from tuyagate.cloud.credentials import ENV_VARS, resolve_credentials

    given = given or CloudCredentials(client_id="", secret="")
    stored = load_cloud_login(registry, vault)
    # Only an id or a secret counts as "a login was meant": a CA bundle or region variable alone,
    # with nothing stored, leaves the home LAN-only instead of failing.
    named = ("client_id", "secret")
    anything = any(getattr(given, n) for n in named) or any(os.environ.get(ENV_VARS[n]) for n in named)
    if stored is None and not anything:
        return None
    creds = resolve_credentials(given, stored=lambda: stored)
    from tuyagate.cloud.client import TuyaCloudClient
    from tuyagate.cloud.signing import SignScheme

    return TuyaCloudClient(
        creds.client_id,
        creds.secret,
        region=creds.region,
        base_url=creds.base_url,
        verify=creds.ca_bundle or True,
        sign_scheme=SignScheme.OLD if old_sign else SignScheme.CURRENT,
        timeout=timeout,
    )


def cloud_source_for(
    registry: Registry,
    vault: Vault,
    given: CloudCredentials | None = None,
    *,
    timeout: float = 10.0,
    old_sign: bool = False,
) -> CloudSource | None:
    """What ``tuyagate cloud sync`` reads from: a developer project named by ``given`` or the
    ``TUYAGATE_CLOUD_*`` environment, else the stored login of either kind; None when there is none.

    The app login's client needs the ``app`` extra (tuya-device-sharing-sdk).
    """
    return _client_for(registry, vault, given, timeout=timeout, old_sign=old_sign)


def cloud_route_client(registry: Registry, vault: Vault, *, timeout: float = 10.0) -> CloudApi | None:
    """The client behind every device's cloud route: the ``TUYAGATE_CLOUD_*`` environment's developer
    project, else the stored login of either kind; None (LAN only) when there is none.

    A stored app login that cannot be used here (the ``app`` extra is not installed) leaves the home
    LAN-only, with a warning, rather than refusing to open it.
    """
    try:
        return _client_for(registry, vault, None, timeout=timeout, old_sign=False)
    except ConfigError as exc:
        if login_kind(registry) != "app":
            raise
        _LOGGER.warning("the Smart Life app login cannot be used (%s): devices are reached over the LAN only", exc)
        return None


def _client_for(
    registry: Registry, vault: Vault, given: CloudCredentials | None, *, timeout: float, old_sign: bool
) -> TuyaCloudClient | AppCloudClient | None:
    from tuyagate.cloud.credentials import ENV_VARS

    given = given or CloudCredentials(client_id="", secret="")
    named = ("client_id", "secret")
    explicit = any(getattr(given, n) for n in named) or any(os.environ.get(ENV_VARS[n]) for n in named)
    if not explicit and login_kind(registry) == "app":
        from tuyagate.devices.cloud_app_login import app_client_for, load_app_login

        stored = load_app_login(registry, vault)
        if stored is not None:
            return app_client_for(registry, vault, stored, timeout=timeout)
    return cloud_client_for(registry, vault, given, timeout=timeout, old_sign=old_sign)
