"""The automation around tinytuya's API server (``benchmarks.tinytuya_server_peer``) works offline.

tinytuya's server itself comes from a clone of tinytuya's repository, which CI does not have, so
these check every piece the benchmark adds around it with what is here: the devices.json it
writes is what tinytuya's own loader reads, the emulated devices' announcements are what
tinytuya's own ``decrypt_udp`` (the server's listener) decodes, the source is taken from a clone
at the installed version's tag and cached, and the loopback guard the server runs under keeps
every socket on the loopback. (``python -m benchmarks.tinytuya_server_peer --check`` runs the
real server end to end where a clone is available.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import tinytuya
from benchmarks import tinytuya_server_peer as peer

from tuyagate.sim.fleet import SimFleet

ROOT = Path(__file__).resolve().parents[1]


def test_devices_json_is_what_tinytuya_loads(tmp_path: Path) -> None:
    devices = SimFleet.generate(4, versions=["3.1", "3.3", "3.4", "3.5"], first_ip="127.0.9.241").devices
    path = tmp_path / "devices.json"
    peer.write_devices_json(devices, path)
    loaded = tinytuya.load_devicefile(str(path))
    # what the server's lookup reads by id: name and key (the IP and version come from announcements)
    assert [(e["id"], e["key"], e["name"], e["ip"], e["version"]) for e in loaded] == [
        (d.id, d.local_key, d.name, d.ip, d.version) for d in devices
    ]


def test_the_fleet_announces_what_tinytuyas_listener_decodes() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(1.0)
        port = listener.getsockname()[1]
        with peer.emulated_fleet(4, first_ip="127.0.9.241", announce_to=port) as fleet:
            wanted = {d.id: d for d in fleet.devices}
            heard: dict[str, tuple[str, dict[str, object]]] = {}
            deadline = time.monotonic() + 15
            while len(heard) < len(wanted) and time.monotonic() < deadline:
                try:
                    data, (sender, _) = listener.recvfrom(4096)
                except TimeoutError:
                    continue
                info = json.loads(tinytuya.decrypt_udp(data))  # as the server's tuyalisten thread does
                heard[info["gwId"]] = (sender, info)
    assert set(heard) == set(wanted), f"heard {len(heard)} of {len(wanted)} devices"
    for device_id, (sender, info) in heard.items():
        dev = wanted[device_id]
        assert (sender, info["ip"], info["version"]) == (dev.ip, dev.ip, dev.version)
        assert dev.port == peer.DEVICE_PORT  # where tinytuya's server dials


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_server_source_comes_from_a_clone_at_the_version_tag_then_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TINYTUYA_REPO", raising=False)
    repo, cache = tmp_path / "clone", tmp_path / "cache"
    (repo / "server").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "server" / "server.py").write_text("print('tagged')\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "tagged")
    _git(repo, "tag", "v9.9.9")
    commit = _git(repo, "rev-parse", "HEAD")
    (repo / "server" / "server.py").write_text("print('later')\n")
    _git(repo, "commit", "-q", "-am", "later")

    with pytest.raises(peer.SourceUnavailable, match=r"not on PyPI.*git clone https://github.com/jasonacox/tinytuya"):
        peer.server_source(cache=cache, version="9.9.9")
    with pytest.raises(peer.SourceUnavailable, match=r"no server/server\.py at tag v9\.9\.8"):
        peer.server_source(repo, cache=cache, version="9.9.8")

    path = peer.server_source(repo, cache=cache, version="9.9.9")
    assert path == cache / "9.9.9" / "server.py"
    assert path.read_text() == "print('tagged')\n"  # the tag's file, not the newest
    assert commit in (path.parent / "SOURCE").read_text()
    assert peer.server_source(cache=cache, version="9.9.9") == path  # cached: no clone needed any more


_PROBES = """
import json, socket
from tinytuya import scanner

out = {}
def attempt(name, call):
    try:
        out[name] = repr(call())
    except OSError as exc:
        out[name] = type(exc).__name__

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
udp.bind(("", 0))
out["udp_bound"] = udp.getsockname()[0]
tcp = socket.socket()
tcp.bind(("0.0.0.0", 0))
out["tcp_bound"] = tcp.getsockname()[0]
attempt("broadcast", lambda: udp.sendto(b"x", ("255.255.255.255", 6667)))
attempt("subnet_broadcast", lambda: udp.sendto(b"x", 0, ("10.255.255.255", 6667)))
attempt("connect_out", lambda: socket.socket().connect(("192.0.2.1", 80)))
attempt("resolve_out", lambda: socket.getaddrinfo("example.com", 80))
attempt("bind_other", lambda: socket.socket().bind(("192.0.2.1", 0)))
attempt("loopback_send", lambda: udp.sendto(b"here", ("127.0.0.1", int(__import__("sys").argv[1]))))
attempt("probe", scanner.send_discovery_request)
print("PROBES " + json.dumps(out))
"""

# Under the guard, a tripwire in place of the kernel's calls: anything that gets past the guard to a
# non-loopback address is recorded and stopped here, so even a broken guard sends nothing off the host.
_TRIPWIRE = """
import ipaddress, json, socket, sys
leaks = []
def loopback(host):
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
def wire(name):
    real = getattr(socket.socket, name)
    def call(self, *args):
        if self.family == socket.AF_INET and not loopback(args[-1][0]):
            leaks.append([name, args[-1][0]])
            raise OSError("tripwire")
        return real(self, *args)
    return call
for name in ("bind", "connect", "connect_ex", "sendto"):
    setattr(socket.socket, name, wire(name))
real_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if host is not None and not loopback(host):
        leaks.append(["resolve", host])
        raise socket.gaierror("tripwire")
    return real_getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
from benchmarks import loopback_guard
try:
    loopback_guard.main(["--no-discovery-probe", sys.argv[1], sys.argv[2]])
finally:
    print("LEAKS " + json.dumps(leaks))
"""


def test_the_loopback_guard_keeps_every_socket_on_the_loopback(tmp_path: Path) -> None:
    probes, tripwire = tmp_path / "probes.py", tmp_path / "tripwire.py"
    probes.write_text(textwrap.dedent(_PROBES))
    tripwire.write_text(textwrap.dedent(_TRIPWIRE))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(10)
        port = receiver.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run(
            [sys.executable, str(tripwire), str(probes), str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert receiver.recvfrom(64)[0] == b"here"  # loopback traffic goes through
    lines = {ln.split(" ", 1)[0]: json.loads(ln.split(" ", 1)[1]) for ln in done.stdout.splitlines() if " " in ln}
    assert lines["LEAKS"] == []
    assert lines["PROBES"] == {
        "udp_bound": "127.0.0.1",  # asked for every interface
        "tcp_bound": "127.0.0.1",
        "broadcast": "PermissionError",
        "subnet_broadcast": "PermissionError",
        "connect_out": "PermissionError",
        "resolve_out": "gaierror",
        "bind_other": "PermissionError",
        "loopback_send": "4",
        "probe": "False",  # tinytuya's 3.5 discovery broadcast is replaced by a no-op
    }
    refused = [ln for ln in done.stderr.splitlines() if ln.startswith("loopback-guard: refused")]
    assert len(refused) == 5, done.stderr
