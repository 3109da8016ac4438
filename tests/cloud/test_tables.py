"""Error-code table, regions, credentials, typed models."""

from __future__ import annotations

import json

import pytest

from tuyagate.cloud.codes import CODES, cloud_error, describe, is_reauth, is_retryable, kind_of
from tuyagate.cloud.credentials import CloudCredentials, resolve_credentials
from tuyagate.cloud.models import CloudDevice, DpMapping, FunctionSpec, Specification
from tuyagate.cloud.regions import REGIONS, resolve_base_url
from tuyagate.errors import CloudError, ConfigError


@pytest.mark.parametrize("code", [1004, 1010, 1011, 1013, 1106, 2406, 28841002, 28841004, 500, 1199, 2001, 2008, 2009])
def test_the_issue_codes_are_known_with_an_action(code: int) -> None:
    info = describe(code)
    assert info is not None
    assert info.msg
    assert info.action


def test_kinds_drive_the_client() -> None:
    assert all(is_reauth(c) for c in (1010, 1011, 1012, 1400))
    assert kind_of(1013) == "clock"
    assert all(is_retryable(c) for c in (500, 1110, 1111, 1199))
    assert not is_retryable(28841004)
    assert not is_reauth(1004)
    assert kind_of("not a code") is None
    assert kind_of(None) is None
    assert describe("1004") is CODES[1004]


def test_cloud_error_carries_the_hint() -> None:
    err = cloud_error(1004, "sign invalid")
    assert isinstance(err, CloudError)
    assert err.code == 1004
    assert err.msg == "sign invalid"
    assert "Access Secret" in str(err)
    assert str(cloud_error(99999, "new thing")) == "cloud error 99999: new thing"
    assert cloud_error(2001, "").msg == "device is offline"


def test_regions() -> None:
    assert set(REGIONS) == {"cn", "us", "us-e", "eu", "eu-w", "in", "sg"}
    assert resolve_base_url("eu") == "https://openapi.tuyaeu.com"
    assert resolve_base_url("US-E") == "https://openapi-ueaz.tuyaus.com"
    assert resolve_base_url("we") == "https://openapi-weaz.tuyaeu.com"
    assert resolve_base_url("sg") == "https://openapi-sg.iotbing.com"
    assert resolve_base_url("eu", "http://127.0.0.1:9/") == "http://127.0.0.1:9"
    with pytest.raises(ConfigError, match="unknown Tuya region"):
        resolve_base_url("mars")
    with pytest.raises(ConfigError):
        resolve_base_url()
    with pytest.raises(ConfigError):
        resolve_base_url(base_url="ftp://x")


def test_credentials_order_options_env_stored() -> None:
    env = {"TUYAGATE_CLOUD_CLIENT_ID": "env-id", "TUYAGATE_CLOUD_SECRET": "env-secret", "TUYAGATE_CLOUD_REGION": "eu"}
    given = CloudCredentials(client_id="opt-id")
    creds = resolve_credentials(given, environ=env, stored=lambda: None)
    assert (creds.client_id, creds.secret, creds.region) == ("opt-id", "env-secret", "eu")
    assert "env-secret" not in repr(creds)
    stored = CloudCredentials("st-id", "st-secret", base_url="http://127.0.0.1:1")
    creds = resolve_credentials(CloudCredentials(), environ={}, stored=lambda: stored)
    assert (creds.client_id, creds.secret, creds.base_url) == ("st-id", "st-secret", "http://127.0.0.1:1")


def test_credentials_missing_names_what_to_give() -> None:
    with pytest.raises(ConfigError, match="--secret") as info:
        resolve_credentials(CloudCredentials(client_id="x"), environ={}, stored=lambda: None)
    assert "TUYAGATE_CLOUD_SECRET" in str(info.value)
    with pytest.raises(ConfigError, match="--region or --base-url"):
        resolve_credentials(CloudCredentials("x", "y"), environ={}, stored=lambda: None)


def test_device_repr_hides_the_local_key() -> None:
    device = CloudDevice.from_api({"id": "d1", "name": "Plug", "local_key": "0123456789abcdef", "online": True})
    assert device.local_key == "0123456789abcdef"
    assert "0123456789abcdef" not in repr(device)
    assert "0123456789abcdef" not in str(device)


def test_mapping_from_specification() -> None:
    spec = Specification.from_api(
        {
            "category": "cz",
            "functions": [{"code": "switch_1", "type": "Boolean", "values": "{}", "dp_id": 1}],
            "status": [
                {"code": "switch_1", "type": "Boolean", "values": "{}", "dp_id": 1},
                {"code": "cur_voltage", "type": "Integer", "values": json.dumps({"scale": 1}), "dpId": 20},
                {"code": "no_id", "type": "String", "values": "not json"},
            ],
        }
    )
    mapping = DpMapping.from_specification(spec)
    assert [(e.dp_id, e.code, e.readable, e.writable) for e in mapping.entries] == [
        (1, "switch_1", True, True),
        (20, "cur_voltage", True, False),
    ]
    assert mapping.code_for("20") == "cur_voltage"
    assert mapping.dp_for("switch_1") == 1
    assert mapping.to_codes({"1": True, "99": 5}) == {"switch_1": True}
    assert mapping.to_dps({"cur_voltage": 2301, "nope": 1}) == {"20": 2301}
    assert spec.status[2].values == {}
    assert FunctionSpec.from_api({"code": "c", "type": "Json", "values": '{"b":1,"a":2}'}).raw_values == '{"b":1,"a":2}'


def test_credential_codes_are_auth_errors() -> None:
    from tuyagate.cloud.codes import cloud_error
    from tuyagate.errors import CloudAuthError, CloudError, TuyaAuthError

    for code in (1001, 1004, 1005, 1007):
        error = cloud_error(code, "")
        assert isinstance(error, CloudAuthError)
        assert isinstance(error, TuyaAuthError)
        assert error.code == code
    assert not isinstance(cloud_error(2008, "command or value not support"), TuyaAuthError)
    assert type(cloud_error(1106, "")) is CloudError
