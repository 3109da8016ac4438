"""The public entry point: :func:`open_home` for the devices of a data directory, :func:`connect` for one.

Every front end (library code, the CLI, the gateway, the benchmarks) gets its devices here, so there
is one way to turn a registry into working devices::

    async with tuyagate.open_home() as home:
        plug = home.device("Desk plug")
        await plug.set(switch_1=True)

Both return an opener that is used with ``async with`` (started on entry, closed on exit) or awaited
(``home = await tuyagate.open_home()``; then ``await home.close()``), for code whose lifetime does
not fit one block, such as a web app's lifespan.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

from tuyagate.device_api import Device
from tuyagate.devices.hub import Home, HubOptions
from tuyagate.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tuyagate.devices.registry import DeviceRecord, Registry
    from tuyagate.devices.routes import CloudApi
    from tuyagate.schema import DpSchema

__all__ = ["Opener", "connect", "open_home", "select_records"]

T = TypeVar("T")
_LAN_SHARE = 2.5  # seconds of a request the LAN may use when the cloud can take over (at most half)


class Opener(Generic[T]):
    """``async with opener as x:`` (closed on exit) or ``x = await opener`` (the caller closes ``x``)."""

    __slots__ = ("_close", "_open", "_opened")

    def __init__(self, open_: Callable[[], Awaitable[T]], close: Callable[[T], Awaitable[None]]) -> None:
        self._open = open_
        self._close = close
        self._opened: T | None = None

    def __await__(self) -> Generator[object, None, T]:
        return self._open().__await__()

    async def __aenter__(self) -> T:
        self._opened = await self._open()
        return self._opened

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            await self._close(opened)


def open_home(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    devices: Sequence[str] | None = None,
    cloud: bool | CloudApi = True,
    timeout: float = 5.0,
    options: HubOptions | None = None,
) -> Opener[Home]:
    """The devices of a data directory's registry, started, with their routes.

    - ``data_dir``: where the registry, vault and master key live (default ``$TUYAGATE_DATA_DIR``,
      else the XDG data directory, ``~/.local/share/tuyagate``).
    - ``devices``: only these devices (ids or names) and the gateways their sub-devices need.
    - ``cloud``: True uses the cloud login of the environment or of ``tuyagate cloud login`` (a
      developer project, or the Smart Life app with ``--app``) as every device's fallback route (none
      found: LAN only); False is LAN only; a client (:class:`~tuyagate.cloud.client.TuyaCloudClient`
      or :class:`~tuyagate.cloud.app_client.AppCloudClient`) is used as given (the home closes it).
    - ``timeout``: the default deadline of each request, fallback included.
    - ``options``: the finer timing knobs (its ``timeout`` wins over ``timeout``).

    Raises ConfigError for a vault key that does not match, NotFoundError for a device in
    ``devices`` that the registry lacks.
    """
    if timeout <= 0:
        raise ConfigError("timeout must be positive")
    opts = options or HubOptions(timeout=timeout, lan_timeout=min(_LAN_SHARE, timeout / 2))

    async def open_() -> Home:
        from tuyagate.devices import paths
        from tuyagate.devices.cloud_login import cloud_route_client
        from tuyagate.devices.hub import build_hub
        from tuyagate.devices.registry import Registry
        from tuyagate.devices.vault import Vault

        directory = paths.data_dir(data_dir)
        registry = Registry.open(directory)
        client: CloudApi | None = None
        try:
            vault = Vault.open(registry.db, directory)
            records = select_records(registry, devices) if devices else None
            if cloud is True:
                client = cloud_route_client(registry, vault)
            elif cloud is not False:
                client = cloud
            home = build_hub(registry, vault, cloud=client, options=opts, records=records, owns_registry=True)
        except BaseException:
            if client is not None:
                await client.aclose()
            registry.close()
            raise
        await home.start()
        return home

    return Opener(open_, _close_home)


def connect(
    device_id: str,
    ip: str,
    local_key: str,
    version: str | None = None,
    *,
    port: int = 6668,
    schema: DpSchema | None = None,
    category: str = "",
    name: str | None = None,
    timeout: float = 5.0,
) -> Opener[Device]:
    """One stock Tuya device on the LAN, without a registry: ``async with tuyagate.connect(...) as plug:``.

    ``version`` None detects it on first contact. Without a ``schema`` the built-in one of
    ``category`` is used (``cz`` plugs, ``dj`` lights, ...) where there is one; a device with no
    schema at all takes DP ids (``await plug.set({"1": True})``) unvalidated.
    """
    if timeout <= 0:
        raise ConfigError("timeout must be positive")

    async def open_() -> Device:
        from tuyagate.devices.registry import DeviceRecord
        from tuyagate.devices.routes import LanRoute
        from tuyagate.devices.tuya_device import TuyaDevice
        from tuyagate.lan.connection import DeviceConnection
        from tuyagate.schema.builtin import guess_builtin_schema

        connection = DeviceConnection(device_id, ip, local_key, version, port=port, timeout=timeout)
        record = DeviceRecord(
            id=device_id, name=name or device_id, address=ip, port=port, version=version, category=category
        )
        chosen = schema if schema is not None else guess_builtin_schema(category, None)
        if chosen is not None:
            record = replace(record, schema=chosen)
        device = TuyaDevice(
            record, lan=LanRoute(connection), timeout=timeout, lan_timeout=timeout, on_close=connection.close
        )
        await device.start()
        return device

    return Opener(open_, _close_device)


async def _close_home(home: Home) -> None:
    await home.close()


async def _close_device(device: Device) -> None:
    await device.close()


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
