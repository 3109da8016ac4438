"""``tuyagate sim cloud`` and ``tuyagate cloud call|devices``, as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.conftest import CLIENT_ID, PLUG, SECRET
from tuyagate.sim.manifest import FleetManifest

TUYAGATE = [sys.executable, "-m", "tuyagate.cli"]


def _env(**extra: str) -> dict[str, str]:
    """The environment minus any TUYAGATE_* setting (and a data directory with no stored login)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUYAGATE_")}
    env["TUYAGATE_DATA_DIR"] = os.path.join(tempfile.gettempdir(), "tuyagate-cloud-cli-tests-no-data")
    env.update(extra)
    return env


class SimCloud:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*TUYAGATE, "sim", "cloud", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(TUYAGATE_CLOUD_CLIENT_ID=CLIENT_ID, TUYAGATE_CLOUD_SECRET=SECRET),
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        assert ready, "tuyagate sim cloud printed nothing within 20 s"
        self.line = self.proc.stdout.readline()
        self.info: dict[str, Any] = json.loads(self.line)

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, err


@pytest.fixture
def sim() -> Iterator[SimCloud]:
    running = SimCloud()
    yield running
    if running.proc.poll() is None:
        running.stop()


def tuyagate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TUYAGATE, *args], capture_output=True, text=True, timeout=60, env=env or _env())


def creds(sim: SimCloud) -> list[str]:
    return ["--client-id", CLIENT_ID, "--secret", SECRET, "--base-url", sim.info["base_url"]]


def test_sim_cloud_prints_one_json_line_and_stops_on_sigterm(sim: SimCloud) -> None:
    assert sim.info["base_url"].startswith("http://127.0.0.1:")
    assert sim.info["client_id"] == CLIENT_ID
    assert sim.info["devices"] == 5
    assert sim.info["cert"] is None
    assert SECRET not in sim.line
    code, err = sim.stop()
    assert code == 0
    assert SECRET not in err


def test_call_prints_the_json_answer(sim: SimCloud) -> None:
    done = tuyagate("cloud", "call", "GET", f"/v1.0/devices/{PLUG}/status", *creds(sim))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["success"] is True
    assert {"code": "switch_1", "value": False} in answer["result"]


def test_call_with_a_body_then_a_query_string(sim: SimCloud) -> None:
    body = json.dumps({"commands": [{"code": "switch_1", "value": True}]})
    sent = tuyagate("cloud", "call", "POST", f"/v1.0/iot-03/devices/{PLUG}/commands", "--body", body, *creds(sim))
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["result"] is True
    logs = tuyagate("cloud", "call", "get", f"/v1.0/devices/{PLUG}/logs?type=5,7&size=10", *creds(sim))
    assert logs.returncode == 0, logs.stderr
    events = json.loads(logs.stdout)["result"]["logs"]
    assert {e["event_id"] for e in events} == {5, 7}


def test_call_exit_code_is_1_when_success_is_false(sim: SimCloud) -> None:
    done = tuyagate("cloud", "call", "GET", "/v1.0/devices/not-mine", *creds(sim))
    assert done.returncode == 1
    assert json.loads(done.stdout)["code"] == 1106


def test_credentials_from_the_environment_and_secret_never_printed(sim: SimCloud) -> None:
    env = _env(
        TUYAGATE_CLOUD_CLIENT_ID=CLIENT_ID, TUYAGATE_CLOUD_SECRET=SECRET, TUYAGATE_CLOUD_BASE_URL=sim.info["base_url"]
    )
    for args in (
        ("cloud", "devices"),
        ("-vv", "cloud", "devices", "--json"),
        ("-vv", "cloud", "call", "GET", f"/v1.0/devices/{PLUG}"),
    ):
        done = tuyagate(*args, env=env)
        assert done.returncode == 0, done.stderr
        assert SECRET not in done.stdout + done.stderr
    table = tuyagate("cloud", "devices", env=env)
    assert table.stdout.splitlines()[0].split() == ["ID", "NAME", "CATEGORY", "ONLINE", "SUB", "PRODUCT_NAME"]
    assert "0123456789abcdef" not in table.stdout  # local keys only with --show-keys
    rows = json.loads(tuyagate("cloud", "devices", "--json", "--show-keys", env=env).stdout)
    assert rows[0]["local_key"] == "0123456789abcdef"


def test_wrong_secret(sim: SimCloud) -> None:
    wrong = "this-is-the-wrong-secret-000000"
    bad = ["--client-id", CLIENT_ID, "--secret", wrong, "--base-url", sim.info["base_url"]]
    for args in (("cloud", "call", "GET", f"/v1.0/devices/{PLUG}"), ("cloud", "devices")):
        done = tuyagate(*args, *bad)
        assert done.returncode == 1
        # the login itself is refused, so there is no answer to print, only the error
        assert done.stdout == ""
        assert done.stderr.startswith("tuyagate: error: cloud error 1004: sign invalid (check the Access Secret")
        assert wrong not in done.stderr


def test_missing_credentials_is_a_one_line_error() -> None:
    done = tuyagate("cloud", "devices", "--region", "eu")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "tuyagate: error: no Tuya cloud credentials: give --client-id and --secret "
        "(or set TUYAGATE_CLOUD_CLIENT_ID, TUYAGATE_CLOUD_SECRET)"
    ]


def test_tls_and_a_fleet_file(tmp_path: Path) -> None:
    manifest = FleetManifest.from_dict(
        {
            "devices": [
                {
                    "id": "onlydevice",
                    "name": "Only",
                    "local_key": "k" * 16,
                    "status": {"1": 7},
                    "schema": [{"dp_id": 1, "code": "level", "type": "Integer", "values": {"min": 0, "max": 9}}],
                }
            ]
        }
    )
    manifest.save(tmp_path / "fleet.json")
    running = SimCloud("--tls", "--fleet", str(tmp_path / "fleet.json"))
    try:
        assert running.info["base_url"].startswith("https://")
        cert = running.info["cert"]
        assert Path(cert).is_file()
        done = tuyagate("cloud", "call", "GET", "/v1.0/devices/onlydevice/status", *creds(running), "--ca-bundle", cert)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["result"] == [{"code": "level", "value": 7}]
        untrusted = tuyagate("cloud", "call", "GET", "/v1.0/devices/onlydevice/status", *creds(running))
        assert untrusted.returncode == 1
        assert "TLS certificate is not trusted" in untrusted.stderr
    finally:
        assert running.stop()[0] == 0
    assert not Path(cert).exists()


def test_sim_cloud_needs_credentials() -> None:
    done = tuyagate("sim", "cloud", "--port", "0")
    assert done.returncode == 1
    assert "--client-id" in done.stderr


def test_the_stored_login_is_used_when_nothing_is_given(sim: SimCloud, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    login = subprocess.run(
        [*TUYAGATE, "cloud", "login", "--data-dir", data, "--client-id", CLIENT_ID, "--secret-stdin",
         "--base-url", sim.info["base_url"]],
        input=SECRET + "\n", capture_output=True, text=True, timeout=60, env=_env(),
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    done = tuyagate("cloud", "call", "GET", f"/v1.0/devices/{PLUG}", "--data-dir", data)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["id"] == PLUG
    listing = tuyagate("cloud", "devices", env=_env(TUYAGATE_DATA_DIR=data))
    assert listing.returncode == 0, listing.stderr
    assert SECRET not in listing.stdout + listing.stderr + done.stdout + done.stderr
