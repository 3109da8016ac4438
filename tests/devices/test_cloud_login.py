"""The stored cloud login: settings hold references, the vault holds the secret, resolve_credentials finds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuyagate.cloud.credentials import CloudCredentials, resolve_credentials
from tuyagate.devices.cloud_login import (
    CLOUD_ACCESS_TOKEN,
    CLOUD_SECRET,
    forget_cloud_login,
    load_cloud_login,
    save_cloud_login,
    stored_login_loader,
)
from tuyagate.devices.paths import DB_FILENAME
from tuyagate.devices.registry import Registry
from tuyagate.devices.tinytuya_import import parse_tinytuya_credentials
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError

LOGIN = CloudCredentials(client_id="p1234abcd", secret="s3cretS3cretS3cretS3cretS3cret00", region="eu")


def test_save_load_forget(tmp_path: Path) -> None:
    with Registry.open(tmp_path) as registry:
        vault = Vault.open(registry.db, tmp_path, env={})
        assert load_cloud_login(registry, vault) is None
        vault.put(CLOUD_ACCESS_TOKEN, "old-token")
        save_cloud_login(registry, vault, LOGIN)
        assert load_cloud_login(registry, vault) == LOGIN
        assert registry.get_setting("cloud") == {
            "kind": "developer",
            "client_id": "p1234abcd",
            "region": "eu",
            "base_url": None,
            "ca_bundle": None,
            "secret": CLOUD_SECRET,
        }
        assert CLOUD_ACCESS_TOKEN not in vault
        assert LOGIN.secret not in repr(load_cloud_login(registry, vault))
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(DB_FILENAME))
    assert LOGIN.secret.encode() not in blob
    with Registry.open(tmp_path) as registry:
        vault = Vault.open(registry.db, tmp_path, env={})
        assert forget_cloud_login(registry, vault)
        assert not forget_cloud_login(registry, vault)
        assert load_cloud_login(registry, vault) is None


def test_resolve_credentials_uses_the_stored_login(tmp_path: Path) -> None:
    env = {"TUYAGATE_DATA_DIR": str(tmp_path / "data")}
    loader = stored_login_loader(env=env)
    assert loader() is None
    assert not (tmp_path / "data").exists()  # looking did not create anything
    with Registry.open(tmp_path / "data") as registry:
        save_cloud_login(registry, Vault.open(registry.db, tmp_path / "data", env=env), LOGIN)
    assert resolve_credentials(CloudCredentials(), environ={}, stored=loader) == LOGIN
    given = CloudCredentials(client_id="other", secret="x", base_url="http://127.0.0.1:9")
    assert resolve_credentials(given, environ={}, stored=loader) == given


def test_tinytuya_json() -> None:
    creds = parse_tinytuya_credentials(
        '{"apiKey": "k123", "apiSecret": "s456", "apiRegion": "eu-w", "apiDeviceID": "bf1"}'
    )
    assert creds == CloudCredentials(client_id="k123", secret="s456", region="eu-w")
    with pytest.raises(ConfigError, match="apiKey and apiSecret"):
        parse_tinytuya_credentials({"apiKey": "k"})
