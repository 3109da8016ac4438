"""A real Mosquitto broker for tests and benchmarks: started on a free loopback port, stopped by PID.

Debian's ``mosquitto`` package provides the binary (``./run`` installs it where it can). The broker runs
with a generated configuration in its own directory: one listener on 127.0.0.1, anonymous clients,
no persistence unless asked (so a restart really loses every retained message, the worst case for the
bridge), logging to a file the tests can read when something fails.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MOSQUITTO", "MosquittoBroker", "free_port", "mosquitto_path"]


def mosquitto_path() -> str | None:
    """The mosquitto binary (on PATH, or Debian's /usr/sbin), or None."""
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )


MOSQUITTO = mosquitto_path()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class MosquittoBroker:
    """``start()``, ``stop()`` (SIGTERM, then SIGKILL), ``restart()`` on the same port."""

    directory: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    persistence: bool = False
    users: dict[str, str] = field(default_factory=dict)  # when set: no anonymous clients, these logins only
    extra: list[str] = field(default_factory=list)  # more configuration lines (a bridge to another broker)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / "mosquitto.log"

    def _config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'false' if self.users else 'true'}",
            f"user {getpass.getuser()}",  # started as root, mosquitto would switch to a user that cannot read tmp dirs
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.directory}/",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "max_queued_messages 100000",
            "set_tcp_nodelay true",  # as a latency-minded deployment would: no Nagle delay on small messages
            "max_inflight_messages 0",
        ]
        if self.users:
            passwords = self.directory / "passwords"
            passwords.write_text("", encoding="utf-8")
            for user, password in self.users.items():
                tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
                subprocess.run(
                    [tool, "-b", str(passwords), user, password], check=True, capture_output=True, timeout=30
                )
            lines.append(f"password_file {passwords}")
        lines += self.extra
        path = self.directory / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def start(self, timeout: float = 10.0) -> None:
        if MOSQUITTO is None:
            raise RuntimeError("mosquitto is not installed")
        config = self._config()
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {err.strip()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)  # polling the port, bounded by the deadline above
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s")

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
