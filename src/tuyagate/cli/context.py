"""What every command that touches the registry shares: the data directory, the store, the cloud, the hub.

- :func:`add_data_dir_arg` adds ``--data-dir`` (default: ``$TUYAGATE_DATA_DIR``, then the XDG
  data directory; see :mod:`tuyagate.devices.paths`).
- :func:`open_store` opens the registry and its vault for the length of a ``with`` block.
- :func:`cloud_client_from_store` makes a cloud client from command-line options, the
  ``TUYAGATE_CLOUD_*`` environment, or the login ``tuyagate cloud login`` stored; None when
  there is none at all, so callers can run LAN-only.
- :func:`open_hub` builds and starts a :class:`~tuyagate.devices.hub.DeviceHub` (LAN first,
  cloud fallback when a login exists), for ``status``/``set``/``watch`` by name and for ``serve``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

from tuyagate.cloud.credentials import ENV_VARS, CloudCredentials, resolve_credentials
from tuyagate.devices import paths
from tuyagate.devices.cloud_login import load_cloud_login
from tuyagate.devices.registry import DeviceRecord, Registry
from tuyagate.devices.vault import Vault
from tuyagate.errors import ConfigError

if TYPE_CHECKING:  # httpx, the LAN stack and the flashed clients load only when a command needs them
    from tuyagate.cloud.client import TuyaCloudClient
    from tuyagate.devices.hub import DeviceHub, HubOptions

__all__ = [
    "add_data_dir_arg",
    "cloud_client_from_store",
    "emit",
    "hub_session",
    "open_hub",
    "open_store",
    "read_secret",
    "select_records",
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
    the stored login, in that order; None when none of them gives anything.

    A half-given login (an id without a secret, no endpoint) is a ConfigError naming what is missing.
    """
    given = CloudCredentials(
        client_id=getattr(args, "client_id", None) or "",
        secret=getattr(args, "secret", None) or "",
        region=getattr(args, "region", None),
        base_url=getattr(args, "base_url", None),
        ca_bundle=getattr(args, "ca_bundle", None),
    )
    stored = load_cloud_login(registry, vault)
    # Only an id or a secret counts as "a login was meant": a CA bundle or region variable alone,
    # with nothing stored, leaves the command LAN-only instead of failing.
    named = ("client_id", "secret")
    anything = any(getattr(given, n) for n in named) or any(os.environ.get(ENV_VARS[n]) for n in named)
    if stored is None and not anything:
        return None
    creds = resolve_credentials(given, stored=lambda: stored)
    from tuyagate.cloud.client import TuyaCloudClient
    from tuyagate.cloud.signing import SignScheme

    return TuyaCloudClient(
        creds.client_id,
        creds.secret,
        region=creds.region,
        base_url=creds.base_url,
        verify=creds.ca_bundle or True,
        sign_scheme=SignScheme.OLD if getattr(args, "old_sign", False) else SignScheme.CURRENT,
        timeout=float(getattr(args, "timeout", None) or 10.0),
    )


def select_records(registry: Registry, names: Sequence[str]) -> list[DeviceRecord]:
    """The devices named (by id or name), followed by the gateways of any sub-devices among them."""
    chosen: dict[str, DeviceRecord] = {}
    for name in names:
        record = registry.get(name)
        chosen.setdefault(record.id, record)
    for record in list(chosen.values()):
        if record.parent_id and record.parent_id not in chosen:
            parent = registry.find(record.parent_id)
            if parent is None or parent.id != record.parent_id:
                raise ConfigError(f"{record.name} names gateway {record.parent_id}, which is not in the registry")
            chosen[parent.id] = parent
    return list(chosen.values())


async def open_hub(
    args: argparse.Namespace,
    *,
    names: Sequence[str] | None = None,
    options: HubOptions | None = None,
    store: tuple[Registry, Vault] | None = None,
) -> DeviceHub:
    """A started hub over the registry (or only the devices ``names``, plus their gateways).

    The cloud route is added when :func:`cloud_client_from_store` finds a login. Close the hub
    with ``await hub.close()`` (it closes its connections and the cloud client). With ``store``
    the caller owns the registry and closes it after the hub; without it the hub gets its own
    registry connection, which it keeps (to save device states) until the process ends; prefer
    :func:`hub_session`, which closes both.
    """
    from tuyagate.devices.hub import build_hub

    owned = store is None
    if store is None:
        directory = paths.data_dir(getattr(args, "data_dir", None))
        registry = Registry.open(directory)
    else:
        registry, vault = store
    cloud: TuyaCloudClient | None = None
    try:
        if store is None:
            vault = Vault.open(registry.db, directory)
        records = select_records(registry, names) if names else None
        cloud = cloud_client_from_store(registry, vault, args)
        hub = build_hub(registry, vault, cloud=cloud, options=options, records=records)
    except BaseException:
        if cloud is not None:
            await cloud.aclose()
        if owned:
            registry.close()
        raise
    await hub.start()
    return hub


@asynccontextmanager
async def hub_session(
    args: argparse.Namespace, *, names: Sequence[str] | None = None, options: HubOptions | None = None
) -> AsyncIterator[DeviceHub]:
    """``async with hub_session(args, names=["Desk plug"]) as hub:``: store and hub, closed in order."""
    with open_store(args) as store:
        hub = await open_hub(args, names=names, options=options, store=store)
        try:
            yield hub
        finally:
            await hub.close()


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
