"""Helpers for the Smart Life app login tests: pointing the official SDK at the emulator, logging in."""

from __future__ import annotations

import pytest

from tuyagate.cloud.app_login import AppLogin, AppLoginFlow
from tuyagate.sim.cloud_server import RunningCloud

USER_CODE = "emuUserCode42"  # the code the emulated app shows (a test value)


def point_sdk_at(monkeypatch: pytest.MonkeyPatch, cloud: RunningCloud) -> None:
    """The SDK's login host is a module constant; its sessions trust ``REQUESTS_CA_BUNDLE``."""
    import tuya_sharing.user

    assert cloud.cert_path is not None, "the SDK's login calls are https only: start the emulator with tls=True"
    monkeypatch.setattr(tuya_sharing.user, "URL_PATH", f"127.0.0.1:{cloud.port}")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cloud.cert_path))


async def app_login(cloud: RunningCloud, *, user_code: str = USER_CODE) -> AppLogin:
    """A QR login through tuyagate's flow, approved in the emulated app at once."""
    ca = str(cloud.cert_path) if cloud.cert_path else None
    flow = AppLoginFlow(user_code, base_url=cloud.base_url, ca_bundle=ca, timeout=5.0)
    try:
        challenge = await flow.start()
        assert cloud.state.app.approve() == 1
        login = await flow.poll(challenge)
    finally:
        flow.close()
    assert login is not None
    return login
