"""Settings: defaults, the [gateway] table of tuyagate.toml, TUYAGATE_* overrides, and no secret in repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuyagate.errors import ConfigError
from tuyagate.gateway.browser_guard import is_loopback_host
from tuyagate.gateway.settings import GatewaySettings, is_loopback, load_settings


def test_defaults_are_safe() -> None:
    s = GatewaySettings()
    assert s.host == "127.0.0.1"
    assert s.auth == "auto"
    assert s.cloud_compat_enabled is False


def test_toml_then_env_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "tuyagate.toml"
    config.write_text(
        'data_dir = "/var/lib/tuyagate"\n'
        "[gateway]\n"
        'host = "0.0.0.0"\n'
        "port = 9000\n"
        "request_timeout = 2.5\n"
        "[gateway.cloud_compat]\n"
        'client_id = "abc"\n'
        'client_secret = "s3cr3t-value"\n'
    )
    s = load_settings(config, env={})
    assert (s.host, s.port, s.request_timeout) == ("0.0.0.0", 9000, 2.5)
    assert s.data_dir == Path("/var/lib/tuyagate")
    assert s.cloud_compat_enabled
    assert "s3cr3t-value" not in repr(s)
    s = load_settings(config, env={"TUYAGATE_PORT": "9100", "TUYAGATE_AUTH": "on"}, port=9200)
    assert s.port == 9200
    assert s.auth == "on"
    assert load_settings(None, env={"TUYAGATE_PORT": "9100"}).port == 9100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gateway]\nfoo = 1\n", "unknown gateway setting 'foo'"),
        ("[gateway]\nport = 'x'\n", "cannot use 'x'"),
        ("[gateway]\nauth = 'maybe'\n", "auth must be one of"),
        ("[gateway\n", "not valid TOML"),
    ],
)
def test_bad_configuration_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "tuyagate.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, env={})


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/nonexistent/tuyagate.toml", env={})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("::", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("localhost:8780", True),
        ("127.0.0.1", True),
        ("127.1.2.3:1", True),
        ("[::1]:8780", True),
        ("app.localhost", True),
        ("192.168.1.2:8780", False),
        ("evil.example", False),
        ("127.0.0.1.evil.example", False),
    ],
)
def test_is_loopback_host(host: str, ok: bool) -> None:
    assert is_loopback_host(host) is ok


@pytest.mark.parametrize(("raw", "on"), [("true", True), ("1", True), ("off", False), ("no", False)])
def test_cloud_events_is_a_switch(raw: str, on: bool) -> None:
    assert load_settings(env={"TUYAGATE_CLOUD_EVENTS": raw}).cloud_events is on


def test_cloud_events_from_toml_and_bad_words(tmp_path: Path) -> None:
    file = tmp_path / "gw.toml"
    file.write_text("[gateway]\ncloud_events = true\n")
    assert load_settings(file, env={}).cloud_events is True
    assert load_settings(env={}).cloud_events is False
    with pytest.raises(ConfigError, match="cloud_events"):
        load_settings(env={"TUYAGATE_CLOUD_EVENTS": "maybe"})


def test_fastapi_telemetry_is_off_unless_the_environment_asks_for_opentelemetry() -> None:
    from tuyagate.gateway.app import telemetry_options

    off = telemetry_options({"PATH": "/usr/bin"})
    assert off in ({}, {"telemetry": {"tracing": False, "metrics": False, "logs": False}})  # {}: an older FastAPI
    assert telemetry_options({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) == {}
    assert telemetry_options({"FASTAPI_OTEL_AUTO_CONFIGURE": "true"}) == {}
