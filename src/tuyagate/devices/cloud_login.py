"""The stored Tuya cloud login: the project's Access ID and endpoint in the registry, its secret in the vault.

``tuyagate cloud login`` saves with :func:`save_cloud_login`; every later command finds it through
:func:`stored_login_loader`, which plugs into :func:`tuyagate.cloud.credentials.resolve_credentials`
as its ``stored`` hook. The registry's ``cloud`` setting holds only references to the vault's names,
never a secret. Tokens the token manager wants to keep across restarts go to the vault under
:data:`CLOUD_ACCESS_TOKEN` and :data:`CLOUD_REFRESH_TOKEN`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices import paths
from tuyagate.devices.registry import Registry
from tuyagate.devices.vault import Vault

if TYPE_CHECKING:  # httpx loads only when a client is made
    from tuyagate.cloud.client import TuyaCloudClient

__all__ = [
    "CLOUD_ACCESS_TOKEN",
    "CLOUD_REFRESH_TOKEN",
    "CLOUD_SECRET",
    "CLOUD_SETTING",
    "cloud_client_for",
    "forget_cloud_login",
    "load_cloud_login",
    "save_cloud_login",
    "stored_login_loader",
]

CLOUD_SETTING = "cloud"
CLOUD_SECRET = "cloud/secret"
CLOUD_ACCESS_TOKEN = "cloud/access_token"
CLOUD_REFRESH_TOKEN = "cloud/refresh_token"


def save_cloud_login(registry: Registry, vault: Vault, creds: CloudCredentials) -> None:
    """Store a login (replacing any other) in one transaction; tokens of an older login are dropped."""
    setting = {
        "client_id": creds.client_id,
        "region": creds.region,
        "base_url": creds.base_url,
        "ca_bundle": creds.ca_bundle,
        "secret": CLOUD_SECRET,
    }
    with registry.db.transaction():
        vault.put(CLOUD_SECRET, creds.secret)
        vault.delete(CLOUD_ACCESS_TOKEN)
        vault.delete(CLOUD_REFRESH_TOKEN)
        registry.set_setting(CLOUD_SETTING, setting)


def load_cloud_login(registry: Registry, vault: Vault) -> CloudCredentials | None:
    """The stored login, or None when there is none."""
    setting = registry.get_setting(CLOUD_SETTING)
    if not isinstance(setting, Mapping) or not setting.get("client_id"):
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
    """Remove the stored login and its tokens; False if there was none."""
    with registry.db.transaction():
        had = registry.delete_setting(CLOUD_SETTING)
        for name in (CLOUD_SECRET, CLOUD_ACCESS_TOKEN, CLOUD_REFRESH_TOKEN):
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
