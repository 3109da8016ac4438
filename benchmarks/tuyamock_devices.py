"""Helper of ``benchmarks.lan_bench``: a fleet of tuyamock devices (PyPI ``tuyamock``) in its own process.

tuyamock is an emulator nobody here wrote (built on tinytuya's own framing), so a figure measured
against it cannot flatter tuyagate's emulator and client for agreeing with each other. It serves
one device per server with one thread each; this process starts one ``tuyamock.MockDevice`` per
device of the manifest it is given (written by the benchmark: the same ids, keys, versions and
loopback addresses as ``benchmarks.lan_devices``), writes it back with the bound ports, prints
"ready" and stops when stdin closes.

tuyamock 0.0.6 pins tinytuya 1.18.1, older than the tinytuya the project tests against, so it
lives in a venv of its own (``.venv-tuyamock``, made by ``benchmarks.lan_bench`` on first use) and
this file imports nothing but tuyamock and the standard library: it runs by path with that venv's
interpreter.

Run: ``.venv-tuyamock/bin/python benchmarks/tuyamock_devices.py --manifest-in a.json --manifest b.json``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

DPS = {"1": False, "9": 0, "17": 1200, "18": 0, "19": 0, "20": 2301}  # a plug, as tuyagate's emulator has
VERSION = "0.0.6"
VENV = Path(__file__).resolve().parent.parent / ".venv-tuyamock"


def interpreter() -> str | None:
    """A Python that has tuyamock: ``.venv-tuyamock`` (made here on first use), or None with a printed note."""
    python = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    check = [
        str(python),
        "-c",
        f"import tuyamock, importlib.metadata as m; assert m.version('tuyamock') == {VERSION!r}",
    ]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python)
    print(f"setting up {VENV} with tuyamock {VERSION} (once; it pins its own tinytuya)", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=300)
        pip = [str(python), "-m", "pip", "install", "-q", f"tuyamock=={VERSION}"]
        subprocess.run(pip, check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"note: tuyamock could not be installed ({exc}): the runs on it are skipped")
        return None
    return str(python)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest-in", required=True, help="the devices to serve (the benchmark's JSON)")
    parser.add_argument("--manifest", required=True, help="where to write them back with their bound ports")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import tuyamock  # type: ignore[import-not-found,import-untyped,unused-ignore]

    with open(args.manifest_in, encoding="utf-8") as fh:
        manifest: dict[str, Any] = json.load(fh)
    mocks: list[Any] = []
    try:
        for dev in manifest["devices"]:
            mock = tuyamock.MockDevice(
                dev["local_key"],
                version=dev["version"],
                dps=DPS,
                host=dev["ip"],
                port=dev["port"],
                gw_id=dev["id"],
                idle_timeout=600.0,
            )
            dev["port"] = mock.start()
            mocks.append(mock)
        tmp = args.manifest + ".tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
            json.dump(manifest, fh)
        os.replace(tmp, args.manifest)
        print("ready", flush=True)
        sys.stdin.read()  # until the parent closes it
    finally:
        for mock in mocks:
            mock.server.close()  # wake every serving thread first: the fleet stops in one pass
        for mock in mocks:
            mock.stop()


if __name__ == "__main__":
    main()
