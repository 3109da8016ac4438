"""Run a third-party Python server with its sockets held to the loopback.

Peers such as tinytuya's API server bind every interface (``bind(("", port))``), broadcast UDP
discovery probes to every network the machine has, and can reach a cloud; the benchmark must
never send anything off the machine. This launcher changes the ``socket`` module before it runs
the server's file, so that whatever the server's code does:

- a bind to all interfaces (``""``/``0.0.0.0``) binds 127.0.0.1 instead, and a bind to any
  address outside 127.0.0.0/8 (or ::1) is refused;
- ``connect``/``connect_ex``/``sendto`` to an address outside the loopback is refused
  (``PermissionError``), a broadcast included;
- name resolution answers only IP literals and ``localhost`` (so no DNS query leaves either).

Every refusal is printed to stderr as a line starting with ``loopback-guard: refused`` so a run
shows what the server tried. ``--no-discovery-probe`` also replaces tinytuya's 3.5 discovery
probe (``tinytuya.scanner.send_discovery_request``, a broadcast to UDP 7000 every few seconds)
with a no-op: the emulated devices announce themselves, and the refused broadcast would only log
errors.

    python -m benchmarks.loopback_guard [--no-discovery-probe] SERVER.py [ARGS...]
"""

from __future__ import annotations

import ipaddress
import runpy
import socket
import sys
from typing import Any

_REFUSED = "loopback-guard: refused"


def is_loopback(host: object) -> bool:
    """Whether ``host`` (an address as a socket call receives it) is on the loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _host(address: Any) -> object | None:
    """The host of an AF_INET/AF_INET6 address tuple; None for other families' addresses."""
    if isinstance(address, tuple) and address:
        host: object = address[0]
        return host
    return None


def _refuse(what: str, address: Any) -> None:
    print(f"{_REFUSED} {what} {address!r}", file=sys.stderr, flush=True)
    raise PermissionError(f"{what} {address!r}: only loopback addresses are allowed in this process")


def install() -> None:
    """Patch ``socket`` for the rest of this process (every socket made through ``socket.socket``)."""
    cls = socket.socket
    real_bind, real_connect, real_connect_ex, real_sendto = cls.bind, cls.connect, cls.connect_ex, cls.sendto
    real_getaddrinfo = socket.getaddrinfo
    inet = (socket.AF_INET, socket.AF_INET6)

    def bind(self: socket.socket, address: Any) -> None:
        if self.family in inet:
            host = _host(address)
            if host in ("", "0.0.0.0", "::"):
                address = ("127.0.0.1" if self.family == socket.AF_INET else "::1", *address[1:])
            elif not is_loopback(host):
                _refuse("bind", address)
        real_bind(self, address)

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in inet and not is_loopback(_host(address)):
            _refuse("connect", address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in inet and not is_loopback(_host(address)):
            _refuse("connect", address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *rest: Any) -> int:
        address = rest[-1]  # sendto(data, address) or sendto(data, flags, address)
        if self.family in inet and not is_loopback(_host(address)):
            _refuse("sendto", address)
        return int(real_sendto(self, data, *rest))

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not is_loopback(name):
            print(f"{_REFUSED} resolve {name!r}", file=sys.stderr, flush=True)
            raise socket.gaierror(socket.EAI_NONAME, f"{name!r}: only loopback names resolve in this process")
        return real_getaddrinfo(host, *args, **kwargs)

    for name, guarded in {"bind": bind, "connect": connect, "connect_ex": connect_ex, "sendto": sendto}.items():
        setattr(cls, name, guarded)
    socket.getaddrinfo = getaddrinfo


def _no_probe(iface_list: Any = None) -> bool:
    """Stands in for tinytuya's 3.5 discovery broadcast (see the module docstring)."""
    return False


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    no_probe = args[:1] == ["--no-discovery-probe"]
    if no_probe:
        args = args[1:]
    if not args:
        raise SystemExit("usage: python -m benchmarks.loopback_guard [--no-discovery-probe] SERVER.py [ARGS...]")
    install()
    if no_probe:
        from tinytuya import scanner  # type: ignore[import-untyped,unused-ignore]

        scanner.send_discovery_request = _no_probe
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
