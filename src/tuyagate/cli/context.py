"""What every command that touches the registry shares: the data directory, the store, the cloud, the hub.

- :func:`add_data_dir_arg` adds ``--data-dir`` (default: ``$TUYAGATE_DATA_DIR``, then the XDG
  data directory; see :mod:`tuyagate.devices.paths`).
- :func:`open_store` opens the registry and its vault for the length of a ``with`` block.
- :func:`cloud_client_from_store` makes a cloud client from command-line options, the
  ``TUYAGATE_CLOUD_*`` environment, or the login ``tuyagate cloud login`` stored; None when
  there is none at all, so callers can run LAN-only.
- :func:`hub_session` opens the home (:func:`tuyagate.open_home`: LAN first, cloud fallback when
  a login exists) for ``status``/``set``/``watch`` by name.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

from tuyagate.cloud.credentials import CloudCredentials
from tuyagate.devices import paths
from tuyagate.devices.cloud_login import cloud_client_for
from tuyagate.devices.registry import Registry
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError

if TYPE_CHECKING:  # httpx, the LAN stack and the flashed clients load only when a command needs them
    from tuyagate.cloud.client import TuyaCloudClient
    from tuyagate.devices.hub import Home, HubOptions

__all__ = [
    "add_data_dir_arg",
    "cloud_client_from_store",
    "emit",
    "hub_session",
    "open_store",
    "read_secret",
    "table",
]


def add_data_dir_arg(parser: argparse.ArgumentParser) -> None:
    """``--data-dir DIR``: where the registry, the vault and the master key file live."""
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help=f"data directory (default: ${paths.ENV_DATA_DIR}, else the XDG data dir, ~/.local/share/tuyagate)",
    )


@contextmanager
def open_store(args: argparse.Namespace) -> Iterator[tuple[Registry, Vault]]:
    """The registry and vault of ``args.data_dir`` (created on first use), closed on exit.

    The vault's master key comes from ``$TUYAGATE_MASTER_KEY`` or the data directory's key file;
    a key that does not match is a VaultError (a ConfigError) before anything is read.
    """
    directory = paths.data_dir(getattr(args, "data_dir", None))
    registry = Registry.open(directory)
    try:
        yield registry, Vault.open(registry.db, directory)
    finally:
        registry.close()


def cloud_client_from_store(registry: Registry, vault: Vault, args: argparse.Namespace) -> TuyaCloudClient | None:
    """A cloud client from ``args`` (``--client-id`` ... if the command has them), the environment or
    the stored login, in that order; None when none of them gives anything (see
    :func:`tuyagate.devices.cloud_login.cloud_client_for`)."""
    given = CloudCredentials(
        client_id=getattr(args, "client_id", None) or "",
        secret=getattr(args, "secret", None) or "",
        region=getattr(args, "region", None),
        base_url=getattr(args, "base_url", None),
        ca_bundle=getattr(args, "ca_bundle", None),
    )
    return cloud_client_for(
        registry,
        vault,
        given,
        timeout=float(getattr(args, "timeout", None) or 10.0),
        old_sign=bool(getattr(args, "old_sign", False)),
    )


@asynccontextmanager
async def hub_session(
    args: argparse.Namespace, *, names: Sequence[str] | None = None, options: HubOptions | None = None
) -> AsyncIterator[Home]:
    """``async with hub_session(args, names=["Desk plug"]) as home:``: :func:`tuyagate.open_home` for a command.

    The data directory and any cloud options come from ``args``: a developer project named on the
    command line is used as given; otherwise the home finds the environment's or the stored login
    (of either kind) itself. The home is closed on exit.
    """
    from tuyagate.devices.home import open_home
    from tuyagate.devices.routes import CloudApi

    cloud: bool | CloudApi = True
    if getattr(args, "client_id", None) or getattr(args, "secret", None):
        with open_store(args) as (registry, vault):
            cloud = cloud_client_from_store(registry, vault, args) or False
    async with open_home(getattr(args, "data_dir", None), devices=names, cloud=cloud, options=options) as home:
        yield home


def read_secret(value: str | None, *, from_stdin: bool, prompt: str, ask: bool) -> str | None:
    """A secret from its option, else one line of stdin (``--key-stdin``), else a hidden prompt.

    The prompt is used only when ``ask`` is true and stdin is a terminal; otherwise None comes back
    and the caller decides whether the secret was optional. Keys read this way stay out of the
    shell history and of ``ps``.
    """
    if value:
        return value
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise ConfigError(f"nothing was read from stdin for the {prompt.rstrip(': ').lower()}")
        return line
    if ask and sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt) or None
    return None


def emit(text: str) -> None:
    """Print to stdout, and stay quiet when the reader went away (``... | head``)."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """Left-aligned columns with upper-case headers, as ``tuyagate cloud devices`` prints them."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
