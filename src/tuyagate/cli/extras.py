"""Optional parts of the install: which command needs which extra, and one line saying so when it is missing.

``pip install tuyagate`` gives the library and the CLI for LAN, cloud and flashed devices; the HTTP
servers (the gateway behind ``serve`` and ``demo``, and the HTTP emulators ``sim cloud``, ``sim tasmota``,
``sim esphome``, ``sim fleet --cloud-port``) need the ``gateway`` extra, the Smart Life app login
(``cloud login --app``, and ``cloud sync`` from that login) the ``app`` extra, and ``--mqtt`` of ``serve`` and
``demo`` the ``mqtt`` extra. Every such command calls :func:`require_extra` before it imports anything of
that extra, so a bare install answers
``tuyagate serve needs the gateway extra: pip install 'tuyagate[gateway]'`` instead of a traceback, and
:func:`extra_note` adds the same hint to the command's ``--help``.

The check looks the modules up without importing them (``importlib.util.find_spec``): it costs
microseconds, so ``--help`` stays fast, and it does not load a web framework a command may not need.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

from tuyagate.errors import ConfigError

__all__ = [
    "EXTRAS",
    "Extra",
    "MissingExtraError",
    "extra_for_module",
    "extra_note",
    "missing_modules",
    "require_extra",
]

Extra = Literal["gateway", "app", "mqtt"]

# The modules of each extra that tuyagate's code imports (httptools and uvloop are in the extra too,
# but only make things faster: uvicorn and the CLI run without them).
EXTRAS: dict[Extra, tuple[str, ...]] = {
    "gateway": ("fastapi", "starlette", "pydantic", "uvicorn"),
    "app": ("tuya_sharing", "segno", "aiomqtt"),  # the SDK (it brings requests, paho-mqtt), segno, the app MQ
    "mqtt": ("gmqtt",),  # serve/demo --mqtt
}


class MissingExtraError(ConfigError):
    """A command needs an extra that is not installed; the message is the one line to show."""

    def __init__(self, command: str, extra: Extra, missing: tuple[str, ...]) -> None:
        super().__init__(f"{command} needs the {extra} extra: pip install 'tuyagate[{extra}]'")
        self.command = command
        self.extra = extra
        self.missing = missing


def missing_modules(extra: Extra) -> tuple[str, ...]:
    """The modules of ``extra`` that cannot be imported here (empty when it is installed)."""
    missing = []
    for name in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or half-removed installation counts as missing
            found = False
        if not found:
            missing.append(name)
    return tuple(missing)


def require_extra(extra: Extra, command: str) -> None:
    """Raise :class:`MissingExtraError` unless ``extra`` is installed; ``command`` as the user typed it."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(command, extra, missing)


def extra_note(extra: Extra) -> str:
    """A sentence for a command's help when ``extra`` is missing, else an empty string."""
    if not missing_modules(extra):
        return ""
    return f" (needs the {extra} extra: pip install 'tuyagate[{extra}]')"


def extra_for_module(name: str | None) -> Extra | None:
    """The extra that provides module ``name`` (``fastapi.routing`` counts as ``fastapi``), if any.

    The CLI's safety net: a command that forgot :func:`require_extra` still ends in the one line.
    """
    top = (name or "").partition(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return extra
    return None
