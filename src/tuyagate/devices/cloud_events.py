"""Live events of cloud-reachable devices: the cloud's message service feeding a home's devices.

:func:`cloud_events` runs a :class:`~tuyagate.cloud.pulsar.PulsarConsumer` for the home's cloud
login and routes each message by device id: a status report goes into that device's cache with
:meth:`~tuyagate.devices.tuya_device.TuyaDevice.apply_cloud_report` and becomes an ordinary
``state`` event (route ``cloud``) on the home's bus, so SSE and every other subscriber see a
cloud-only device change as they see a LAN push. Because the cache emits only DPs whose value
changed, the cloud's echo of a change made by a command emits nothing, and while a device's LAN
route works its cloud reports are not applied at all (the LAN pushed the change already): one
change, one event. Online/offline events count only while a device's LAN route is not working;
``delete`` (removed from the account) takes it offline. Given an
:class:`~tuyagate.devices.cloud_account.AccountChanges`, devices added to or removed from the
account and renames also change the registry and the running home (:func:`cloud_events_for`
always gives one); without, they are logged.

A developer login (``tuyagate cloud login``) has the OpenAPI's message service (Pulsar,
:func:`cloud_events`); an app login (``cloud login --app``) has the Smart Life app's MQ instead
(:func:`app_mq_events`, an :class:`~tuyagate.cloud.app_mq.AppMqConsumer`). Both hand the same
:class:`~tuyagate.cloud.messages.CloudMessage` to :func:`route_message`. :func:`cloud_events_for`
picks the one the home's login has.

    async with cloud_events(home, credentials):
        ...  # the home's events now include the cloud's pushes
"""

from __future__ import annotations

import logging
import os
import ssl
from typing import TYPE_CHECKING, Any

from tuyagate.device_api import Device
from tuyagate.devices.tuya_device import TuyaDevice
from tuyagate.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from tuyagate.cloud.app_client import AppCloudClient
    from tuyagate.cloud.app_mq import AppMqConsumer
    from tuyagate.cloud.credentials import CloudCredentials
    from tuyagate.cloud.messages import CloudMessage
    from tuyagate.cloud.pulsar import PulsarConsumer
    from tuyagate.devices.cloud_account import AccountChanges
    from tuyagate.devices.hub import Home

__all__ = ["app_mq_events", "cloud_events", "cloud_events_for", "route_message"]

_LOGGER = logging.getLogger(__name__)


def route_message(home: Home, message: CloudMessage) -> bool:
    """Apply one message to the home's device it names; False when the home has no such device."""
    try:
        device: Device | None = home.device(message.device_id)
    except NotFoundError:
        device = None
    if not isinstance(device, TuyaDevice) or device.info.id != message.device_id:
        _LOGGER.debug("message service: %s event for a device not in this home", message.kind)
        return False
    if message.kind == "status":
        device.apply_cloud_report(message.status)
    elif message.kind in ("online", "offline"):
        device.apply_cloud_report(online=message.kind == "online")
    elif message.kind == "removed":
        _LOGGER.warning("%s was removed from the cloud account", device.info.name)
        device.apply_cloud_report(online=False)
    return True


def cloud_events(
    home: Home,
    credentials: CloudCredentials,
    *,
    ws_endpoint: str | None = None,
    backoff_cap: float = 30.0,
    account: AccountChanges | None = None,
) -> PulsarConsumer:
    """A consumer (not started: ``async with`` it, or ``start()``/``close()``) feeding ``home``.

    ``ws_endpoint`` defaults to the login's data center (or, for an emulator's base URL, the
    emulator itself). ConfigError when the login has no message service endpoint.
    """
    from tuyagate.cloud.pulsar import PulsarConsumer, pulsar_endpoint_for

    endpoint = ws_endpoint or pulsar_endpoint_for(credentials.region, credentials.base_url)
    context = ssl.create_default_context(cafile=credentials.ca_bundle) if endpoint.startswith("wss:") else None

    async def handle(message: CloudMessage) -> None:
        route_message(home, message)
        if account is not None:
            await account.handle(message)

    return PulsarConsumer(
        credentials.client_id, credentials.secret, endpoint, handle, ssl_context=context, backoff_cap=backoff_cap
    )


def app_mq_events(
    home: Home,
    app: AppCloudClient,
    *,
    ca_bundle: str | None = None,
    account: AccountChanges | None = None,
    **options: Any,
) -> AppMqConsumer:
    """A consumer of the app MQ (not started) feeding ``home``, for the app login of ``app``.

    It follows the account's homes and the home's cloud-reachable Tuya devices. The broker is
    checked against ``ca_bundle``, else the system's trust store (``SSL_CERT_FILE`` applies).
    ``options`` go to :class:`~tuyagate.cloud.app_mq.AppMqConsumer` (backoff, timeouts).
    """
    from tuyagate.cloud.app_mq import AppMqConsumer

    ids = [d.info.id for d in home.devices() if isinstance(d, TuyaDevice)]

    async def handle(message: CloudMessage) -> None:
        route_message(home, message)
        if account is not None and await account.handle(message) and message.kind == "added":
            await consumer.follow(message.device_id)
        if message.kind == "removed":
            await consumer.unfollow(message.device_id)

    async def homes() -> list[str]:
        return [home_id for home_id, _name in await app.homes()]

    consumer = AppMqConsumer(app.mq_config, homes, ids, handle, ca_bundle=ca_bundle, **options)
    return consumer


def cloud_events_for(home: Home, data_dir: str | os.PathLike[str] | None = None) -> PulsarConsumer | AppMqConsumer:
    """The consumer for the cloud login the home uses: the app MQ for an app login, else the message
    service of the developer login (the ``TUYAGATE_CLOUD_*`` environment, else the one ``tuyagate
    cloud login`` stored in ``data_dir``); ConfigError when there is none."""
    from tuyagate.cloud.app_client import AppCloudClient
    from tuyagate.cloud.credentials import CloudCredentials, resolve_credentials
    from tuyagate.devices.cloud_login import stored_login_loader

    if home.cloud is None:
        raise ConfigError("cloud events need a cloud login: run `tuyagate cloud login` first")
    account = _account_changes(home, data_dir)
    if isinstance(home.cloud, AppCloudClient):
        return app_mq_events(home, home.cloud, account=account)
    try:
        creds = resolve_credentials(CloudCredentials("", ""), stored=stored_login_loader(data_dir))
    except ConfigError:
        raise ConfigError(
            "cloud events need the developer (OpenAPI) login's access id and secret, or an app login "
            "(`tuyagate cloud login --app`)"
        ) from None
    return cloud_events(home, creds, account=account)


def _account_changes(home: Home, data_dir: str | os.PathLike[str] | None) -> AccountChanges | None:
    """What applies account changes for a home opened from ``data_dir`` (None for an ad-hoc home)."""
    from tuyagate.cloud.app_client import AppCloudClient
    from tuyagate.cloud.client import TuyaCloudClient
    from tuyagate.devices.cloud_account import AccountChanges
    from tuyagate.devices.vault import Vault
    from tuyagate.errors import TuyaError

    registry = home.registry
    if registry is None:
        return None
    source = home.cloud if isinstance(home.cloud, TuyaCloudClient | AppCloudClient) else None
    try:  # the vault next to the home's database (where its local keys are)
        vault = Vault.open(registry.db, data_dir if data_dir is not None else registry.db.path.parent)
    except (TuyaError, OSError) as exc:
        _LOGGER.warning("devices added to the cloud account will not be stored: %s", exc)
        return AccountChanges(home, source, None)
    return AccountChanges(home, source, vault)
