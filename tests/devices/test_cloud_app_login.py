"""The stored Smart Life app login: one login of either kind, secrets only in the vault, refreshed tokens saved."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuyagate.cloud.app_login import AppLogin, AppToken
from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices.cloud_app_login import APP_TOKEN, load_app_login, save_app_login, save_app_token
from tuyagate.devices.cloud_login import (
    CLOUD_SECRET,
    cloud_source_for,
    forget_cloud_login,
    load_cloud_login,
    login_kind,
    save_cloud_login,
)
from tuyagate.devices.paths import DB_FILENAME
from tuyagate.devices.registry import Registry
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError

TOKEN = AppToken("acc0123456789abcdef", "ref0123456789abcdef", uid="az17emu", t=1_700_000_000_000, expire_time=7200)
LOGIN = AppLogin("userCode42", "terminal0042", "https://apigw.tuyaeu.com", "me@example.com", TOKEN)
DEVELOPER = CloudCredentials(client_id="p1234abcd", secret="s3cretS3cretS3cretS3cretS3cret00", region="eu")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Registry, Vault]]:
    registry = Registry.open(tmp_path)
    yield registry, Vault.open(registry.db, tmp_path, env={})
    registry.close()


def _db_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.name.startswith(DB_FILENAME))


def test_save_load_and_nothing_secret_outside_the_vault(store: tuple[Registry, Vault], tmp_path: Path) -> None:
    registry, vault = store
    assert login_kind(registry) is None
    save_app_login(registry, vault, LOGIN, login_url="https://127.0.0.1:9443", ca_bundle="/tmp/emu.pem")
    assert login_kind(registry) == "app"
    stored = load_app_login(registry, vault)
    assert stored is not None
    assert stored.login == LOGIN
    assert (stored.login_url, stored.ca_bundle) == ("https://127.0.0.1:9443", "/tmp/emu.pem")
    assert load_cloud_login(registry, vault) is None  # the developer loader does not take an app login
    setting = registry.get_setting("cloud")
    assert setting["kind"] == "app"
    assert setting["endpoint"] == LOGIN.endpoint
    registry.close()
    blob = _db_bytes(tmp_path)
    for secret in (TOKEN.access_token, TOKEN.refresh_token, LOGIN.user_code, LOGIN.terminal_id):
        assert secret.encode() not in blob
        assert secret not in repr(stored)


def test_one_login_at_a_time(store: tuple[Registry, Vault]) -> None:
    registry, vault = store
    save_cloud_login(registry, vault, DEVELOPER)
    save_app_login(registry, vault, LOGIN)
    assert CLOUD_SECRET not in vault  # the developer secret went with its login
    assert login_kind(registry) == "app"
    save_cloud_login(registry, vault, DEVELOPER)
    assert login_kind(registry) == "developer"
    assert APP_TOKEN not in vault
    assert load_app_login(registry, vault) is None
    assert load_cloud_login(registry, vault) == DEVELOPER
    save_app_login(registry, vault, LOGIN)
    assert forget_cloud_login(registry, vault)
    assert vault.names("cloud/") == []
    assert login_kind(registry) is None


def test_refreshed_tokens_replace_the_stored_pair_only_for_the_stored_login(store: tuple[Registry, Vault]) -> None:
    registry, vault = store
    newer = dataclasses.replace(TOKEN, access_token="acc-newer", refresh_token="ref-newer", t=TOKEN.t + 1000)
    save_app_token(registry, vault, newer)  # nothing stored: nothing written
    assert APP_TOKEN not in vault
    save_app_login(registry, vault, LOGIN)
    save_app_token(registry, vault, newer)
    stored = load_app_login(registry, vault)
    assert stored is not None
    assert stored.login.token == newer
    save_cloud_login(registry, vault, DEVELOPER)
    save_app_token(registry, vault, TOKEN)  # a late refresh of a replaced login
    assert APP_TOKEN not in vault


def test_a_damaged_login_says_to_log_in_again(store: tuple[Registry, Vault]) -> None:
    registry, vault = store
    save_app_login(registry, vault, LOGIN)
    vault.put(APP_TOKEN, "{not json")
    with pytest.raises(ConfigError, match="log in again with `tuyagate cloud login --app`"):
        load_app_login(registry, vault)
    vault.delete(APP_TOKEN)
    with pytest.raises(ConfigError, match="damaged"):
        load_app_login(registry, vault)


async def test_the_sync_source_follows_the_stored_kind(
    store: tuple[Registry, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tuya_sharing")
    from tuyagate.cloud.app_client import AppCloudClient
    from tuyagate.cloud.client import TuyaCloudClient

    for var in ("CLIENT_ID", "SECRET", "REGION", "BASE_URL", "CA_BUNDLE"):
        monkeypatch.delenv(f"TUYAGATE_CLOUD_{var}", raising=False)
    registry, vault = store
    assert cloud_source_for(registry, vault) is None
    save_app_login(registry, vault, LOGIN)
    source = cloud_source_for(registry, vault)
    assert isinstance(source, AppCloudClient)
    assert source.base_url == LOGIN.endpoint
    await source.aclose()
    # a developer project named on the command line wins over the stored app login
    given = CloudCredentials(client_id="other", secret="x" * 32, base_url="http://127.0.0.1:9")
    source = cloud_source_for(registry, vault, given)
    assert isinstance(source, TuyaCloudClient)
    await source.aclose()
