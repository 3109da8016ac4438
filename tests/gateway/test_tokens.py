"""API tokens without a server: stored hashed, scopes, throttling of failures, the token CLI."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tuyagate.cli.token_cmds import main as token_main
from tuyagate.errors import NotFoundError, ValidationError
from tuyagate.gateway.auth import FailureThrottle, JsonTokenStore, create_token, hash_token, revoke_token


def test_tokens_are_stored_hashed_and_private(tmp_path: Path) -> None:
    store = JsonTokenStore(tmp_path / "api-tokens.json")
    record, token = create_token(store, "ha", "read")
    raw = (tmp_path / "api-tokens.json").read_text()
    assert token not in raw
    assert hash_token(token) in raw
    assert stat.S_IMODE((tmp_path / "api-tokens.json").stat().st_mode) == 0o600
    assert token not in repr(record)
    assert record.hash not in repr(record)
    assert store.find(hash_token(token)) == record
    with pytest.raises(ValidationError):
        create_token(store, "ha", "read")
    with pytest.raises(ValidationError):
        create_token(store, "x", "admin")
    assert revoke_token(store, "ha") == record
    assert store.list() == []
    with pytest.raises(NotFoundError):
        revoke_token(store, "ha")


def test_throttle_window() -> None:
    throttle = FailureThrottle(max_failures=3, window=10.0)
    for t in (0.0, 1.0, 2.0):
        assert throttle.retry_after("a", now=t) == 0.0
        throttle.failed("a", now=t)
    assert throttle.retry_after("a", now=3.0) == pytest.approx(7.0)
    assert throttle.retry_after("b", now=3.0) == 0.0
    assert throttle.retry_after("a", now=10.5) == 0.0


@pytest.mark.shows_secret("tokens create prints the new token once, by design")
def test_token_cli_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert token_main(["create", "--name", "ha", "--scope", "read", "--data-dir", str(tmp_path), "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["scope"] == "read"
    assert created["token"].startswith("tg_")
    assert token_main(["list", "--data-dir", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{k: created[k] for k in ("id", "name", "scope", "created_at")}]
    assert token_main(["revoke", "ha", "--data-dir", str(tmp_path)]) == 0
    assert token_main(["revoke", "ha", "--data-dir", str(tmp_path)]) == 1
    assert "no API token" in capsys.readouterr().err
