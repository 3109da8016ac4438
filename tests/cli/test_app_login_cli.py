"""`tuyagate cloud login --app` -> `cloud sync` -> `status`, the real CLI against an emulated fleet and cloud.

The emulated cloud serves the Smart Life app API over HTTPS; the CLI trusts its certificate with
``--ca-bundle`` and reaches it with ``--base-url``, as a user would point it at an emulator. The
test plays the user's phone: it approves the QR login the CLI shows, in the emulated app. In-process
through ``tuyagate.cli.main.run`` (in a worker thread: the emulators serve from the test's loop),
and once as real subprocesses, ``tuyagate sim cloud --app-login auto`` included.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cloud.app_support import USER_CODE
from tests.emulated_home import EmulatedHome, emulated_home
from tuyagate.cli.main import run
from tuyagate.cloud.app_login import AppToken
from tuyagate.devices.cloud_app_login import APP_TOKEN
from tuyagate.devices.registry import Registry, secret_name
from tuyagate.devices.vault import Vault
from tuyagate.sim.cloud_server import RunningCloud

segno = pytest.importorskip("segno")
pytest.importorskip("tuya_sharing")

CLIENT_ID, SECRET = "appclitestclient", "a" * 32  # the developer side of the emulator (test values)
MASTER = "33" * 32  # a test master key, not a real secret
RELOGIN = "log in again with `tuyagate cloud login --app`"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TUYAGATE_DATA_DIR", "TUYAGATE_LOCAL_KEY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    for var in ("CLIENT_ID", "SECRET", "REGION", "BASE_URL", "CA_BUNDLE"):
        monkeypatch.delenv(f"TUYAGATE_CLOUD_{var}", raising=False)
    monkeypatch.setenv("TUYAGATE_MASTER_KEY", MASTER)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def home() -> AsyncIterator[EmulatedHome]:
    async with emulated_home("127.0.12.1", CLIENT_ID, SECRET, tls=True) as emulated:
        yield emulated


async def acli(data: Path, *argv: str) -> int:
    return await asyncio.wait_for(asyncio.to_thread(run, [*argv, "--data-dir", str(data)]), 30.0)


def login_args(cloud: RunningCloud, *more: str) -> list[str]:
    base = ["cloud", "login", "--app", "--base-url", cloud.base_url, "--ca-bundle", str(cloud.cert_path)]
    return [*base, "--wait", "20", *more]


async def approve_when_pending(cloud: RunningCloud, within: float = 15.0) -> str:
    """The phone: once the CLI shows a QR code, confirm it in the emulated app; returns its token."""
    loop = asyncio.get_running_loop()
    until = loop.time() + within
    while not cloud.state.app.pending:
        assert loop.time() < until, "the CLI never asked for a QR code"
        await asyncio.sleep(0.02)
    (qr,) = cloud.state.app.pending
    assert cloud.state.app.approve(qr) == 1
    return qr


def qr_drawing(payload: str) -> str:
    out = io.StringIO()
    segno.make(payload, error="q").terminal(out=out, compact=True)
    return out.getvalue()


def db_bytes(data: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data.iterdir() if p.name.startswith("tuyagate.db"))


async def login(home: EmulatedHome, data: Path, *more: str) -> str:
    """A complete `cloud login --app` (approved by the test); returns the QR token it showed."""
    command = asyncio.ensure_future(acli(data, *login_args(home.cloud, *more)))
    qr = await approve_when_pending(home.cloud)
    assert await command == 0
    return qr


async def test_app_login_sync_then_status_by_name_on_the_lan(
    home: EmulatedHome, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qr = await login(home, data, "--user-code", USER_CODE)
    captured = capsys.readouterr()
    assert qr_drawing("tuyaSmart--qrLogin?token=" + qr) in captured.err  # the very QR code the app must scan
    assert "Scan this QR code with the Smart Life or Tuya Smart app" in captured.err
    assert "waiting for the approval in the app" in captured.err
    assert captured.out.startswith(
        f"logged in with the Smart Life app as emulated.user@example.com (1 home(s), endpoint {home.cloud.base_url}); "
        f"the login is stored in {data / 'tuyagate.db'}"
    )

    assert await acli(data, "cloud", "login", "--status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["kind"], status["username"], status["endpoint"]) == (
        "app",
        "emulated.user@example.com",
        home.cloud.base_url,
    )

    assert await acli(data, "cloud", "sync", "--json") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["added"], report["updated"], report["warnings"]) == (13, 0, [])
    assert f"reading the device list from {home.cloud.base_url}" in captured.err
    with Registry.open(data) as registry:
        vault = Vault.open(registry.db, data)
        token = AppToken.from_json(vault.require(APP_TOKEN))
        for dev in home.manifest.devices:
            record = registry.get(dev.id)
            assert (record.name, record.product_name, record.category) == (dev.name, dev.product_name, dev.category)
            assert (record.parent_id, record.cid) == (dev.parent_id, dev.cid)
            assert {(d.dp_id, d.code) for d in record.schema} == {(d.dp_id, d.code) for d in dev.schema}
            assert vault.get(secret_name(dev.id)) == dev.local_key

    # discovery's part (the cloud knows no LAN address): the address, port and version by hand, no key
    desk = home.manifest.devices[0]
    light = home.manifest.devices[4]  # 3.5
    for dev in (desk, light):
        where = ["--id", dev.id, "--ip", dev.ip, "--port", str(dev.port), "--version", dev.version]
        assert await acli(data, "devices", "add", *where) == 0
    capsys.readouterr()
    assert await acli(data, "status", "Desk plug", "--json") == 0
    state = json.loads(capsys.readouterr().out)
    assert (state["route"], state["dps"]) == ("lan", desk.status)
    assert await acli(data, "set", "Living room light", "switch_led=false") == 0
    assert "ok (via lan)" in capsys.readouterr().out
    assert home.fleet.sim_for(light.id).dps["20"] is False
    # a device only the cloud reaches is read and switched through the app login's cloud route
    assert await acli(data, "status", "Cellar plug (cloud only)", "--json") == 0
    assert json.loads(capsys.readouterr().out)["route"] == "cloud"
    assert await acli(data, "set", "Cellar plug (cloud only)", "switch_1=true") == 0
    assert "ok (via cloud)" in capsys.readouterr().out
    cellar = next(d for d in home.manifest.devices if d.name == "Cellar plug (cloud only)")
    assert (await home.cloud.state.fleet.backend.get_dps(cellar))["1"] is True

    blob = db_bytes(data)
    for secret in (token.access_token, token.refresh_token, USER_CODE, desk.local_key):
        assert secret.encode() not in blob


async def test_an_expired_login_is_one_line_and_logging_in_again_reuses_the_user_code(
    home: EmulatedHome, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await login(home, data, "--user-code", USER_CODE)
    home.cloud.state.app.revoke_all()  # the user removed the login in the app
    capsys.readouterr()
    assert await acli(data, "cloud", "sync") == 1
    err = capsys.readouterr().err
    why = f"the Smart Life app login has expired or was revoked: {RELOGIN}"
    assert err.splitlines()[-1] == f"tuyagate: error: cloud error 1004: sign invalid ({why})"
    await login(home, data)  # no --user-code: the stored login's
    assert "using the user code of the stored app login" in capsys.readouterr().err
    assert await acli(data, "cloud", "sync") == 0


async def test_refreshed_tokens_are_saved_so_the_next_command_still_works(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 30 s tokens: the SDK refreshes before every call, and each refresh spends the stored refresh token
    async with emulated_home("127.0.13.1", CLIENT_ID, SECRET, tls=True, token_ttl=30.0) as home:
        await login(home, data, "--user-code", USER_CODE)
        with Registry.open(data) as registry:
            first = AppToken.from_json(Vault.open(registry.db, data).require(APP_TOKEN))
        for _ in range(2):
            assert await acli(data, "cloud", "sync") == 0
        assert home.cloud.state.stats["app_token_refreshes"] > 10
        with Registry.open(data) as registry:
            latest = AppToken.from_json(Vault.open(registry.db, data).require(APP_TOKEN))
        assert latest.refresh_token != first.refresh_token
        assert home.cloud.state.app.by_refresh(latest.refresh_token) is not None  # the stored one is the live one


async def test_no_approval_in_time_stores_nothing(
    home: EmulatedHome, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    args = [a if a != "20" else "0.6" for a in login_args(home.cloud, "--user-code", USER_CODE)]
    assert await acli(data, *args) == 1
    assert loop.time() - started < 5.0
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("tuyagate: error: the login was not approved in the app in time")
    assert not await asyncio.to_thread(data.exists)


async def test_logout_ends_the_login_on_the_server_and_status_says_which_login(
    home: EmulatedHome, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await acli(data, "cloud", "login", "--status") == 0
    assert capsys.readouterr().out.startswith("no stored cloud login: `tuyagate cloud login --app`")
    assert not await asyncio.to_thread(data.exists)  # looking created nothing
    await login(home, data, "--user-code", USER_CODE)
    capsys.readouterr()
    assert await acli(data, "cloud", "login", "--status") == 0
    assert capsys.readouterr().out.startswith("cloud login: the Smart Life app as emulated.user@example.com, endpoint")
    # the developer login replaces it, and says so
    dev = ["cloud", "login", "--base-url", home.cloud.base_url, "--ca-bundle", str(home.cloud.cert_path)]
    assert await acli(data, *dev, "--client-id", CLIENT_ID, "--secret", SECRET) == 0
    assert "(developer project)" in (out := capsys.readouterr().out)
    assert out.rstrip().endswith("(it replaces the stored Smart Life app login)")
    assert await acli(data, "cloud", "login", "--status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "developer"

    await login(home, data, "--user-code", USER_CODE)
    assert "(it replaces the stored developer project login)" in capsys.readouterr().out
    sessions = home.cloud.state.app.sessions
    assert await acli(data, "cloud", "logout", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"logged_out": True, "ended_on_server": True}
    assert home.cloud.state.app.sessions == sessions - 1


async def test_options_that_do_not_go_together(
    home: EmulatedHome, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await acli(data, *login_args(home.cloud, "--user-code", USER_CODE, "--client-id", "x")) == 1
    assert "--app logs in with the Smart Life app; --client-id are for a developer project" in capsys.readouterr().err
    assert await acli(data, "cloud", "login", "--user-code", USER_CODE, "--client-id", "x", "--secret", "y") == 1
    assert "--user-code go with --app" in capsys.readouterr().err
    assert await acli(data, *login_args(home.cloud, "--user-code", "not a code!")) == 1
    assert "User Code" in capsys.readouterr().err
    assert not await asyncio.to_thread(data.exists)


def test_without_the_app_extra_the_cli_names_it(
    monkeypatch: pytest.MonkeyPatch, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("tuya_sharing", "segno"):
        monkeypatch.setitem(sys.modules, name, None)
    assert run(["cloud", "login", "--app", "--user-code", USER_CODE, "--data-dir", str(data)]) == 1
    assert capsys.readouterr().err == "tuyagate cloud login --app needs the app extra: pip install 'tuyagate[app]'\n"
    assert not data.exists()


async def test_real_processes_sim_cloud_auto_approval_login_and_sync(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUYAGATE_", "REQUESTS_CA", "CURL_CA"))}
    env.update(TUYAGATE_MASTER_KEY=MASTER, TUYAGATE_DATA_DIR=str(tmp_path / "data"))
    tg = [sys.executable, "-m", "tuyagate.cli"]
    sim = await asyncio.create_subprocess_exec(
        *tg, "sim", "cloud", "--tls", "--app-login", "auto", "--client-id", "x", "--secret", "y" * 32,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert sim.stdout is not None
        info = json.loads(await asyncio.wait_for(sim.stdout.readline(), 20.0))
        assert (info["app_login"], info["tls"]) == ("auto", True)

        async def tuyagate(*argv: str) -> tuple[int, str, str]:
            proc = await asyncio.create_subprocess_exec(
                *tg, *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60.0)
            return proc.returncode or 0, out.decode(), err.decode()

        where = ["--base-url", info["base_url"], "--ca-bundle", info["cert"]]
        code, out, err = await tuyagate("cloud", "login", "--app", "--user-code", USER_CODE, *where, "--json")
        assert code == 0, err
        assert json.loads(out)["kind"] == "app"
        code, out, err = await tuyagate("cloud", "sync")
        assert code == 0, err
        assert out.splitlines()[-1] == "5 cloud device(s): 5 added, 0 updated, 0 unchanged"
        code, out, err = await tuyagate("cloud", "devices", "--json")
        assert code == 0, err
        assert len(json.loads(out)) == 5
    finally:
        sim.terminate()
        await asyncio.wait_for(sim.wait(), 20.0)
