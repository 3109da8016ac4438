"""Where the cloud credentials of a command come from.

Order: explicit values (command-line options), then the environment
(``TUYAGATE_CLOUD_CLIENT_ID``, ``TUYAGATE_CLOUD_SECRET``, ``TUYAGATE_CLOUD_REGION``,
``TUYAGATE_CLOUD_BASE_URL``, ``TUYAGATE_CLOUD_CA_BUNDLE``), then a stored login.

The stored login lives above this layer (registry and vault): callers pass its loader as
``stored``, e.g. :func:`tuyagate.devices.cloud_login.stored_login_loader` (the CLI does).
Without one, :func:`load_stored_login` finds nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tuyagate.errors import ConfigError

__all__ = ["ENV_VARS", "CloudCredentials", "load_stored_login", "resolve_credentials"]

ENV_VARS = {
    "client_id": "TUYAGATE_CLOUD_CLIENT_ID",
    "secret": "TUYAGATE_CLOUD_SECRET",
    "region": "TUYAGATE_CLOUD_REGION",
    "base_url": "TUYAGATE_CLOUD_BASE_URL",
    "ca_bundle": "TUYAGATE_CLOUD_CA_BUNDLE",
}


@dataclass(frozen=True, slots=True)
class CloudCredentials:
    """A cloud project's Access ID and Secret, and its endpoint. ``repr`` hides the secret."""

    client_id: str = ""
    secret: str = field(default="", repr=False)
    region: str | None = None
    base_url: str | None = None
    ca_bundle: str | None = None


def load_stored_login() -> CloudCredentials | None:
    """The default ``stored`` hook: no stored login (the devices layer provides the real loader)."""
    return None


def resolve_credentials(
    given: CloudCredentials,
    *,
    environ: Mapping[str, str] | None = None,
    stored: Callable[[], CloudCredentials | None] = load_stored_login,
) -> CloudCredentials:
    """Fill what ``given`` lacks from the environment, then from the stored login.

    Raises ConfigError naming the missing piece (never its value).
    """
    env = os.environ if environ is None else environ
    values: dict[str, str | None] = {name: getattr(given, name) or env.get(var) for name, var in ENV_VARS.items()}
    if not (values["client_id"] and values["secret"] and (values["region"] or values["base_url"])):
        saved = stored()
        if saved is not None:
            for name in ENV_VARS:
                values[name] = values[name] or getattr(saved, name)
    creds = CloudCredentials(
        client_id=values["client_id"] or "",
        secret=values["secret"] or "",
        region=values["region"] or None,
        base_url=values["base_url"] or None,
        ca_bundle=values["ca_bundle"] or None,
    )
    missing = [opt for opt, ok in (("--client-id", creds.client_id), ("--secret", creds.secret)) if not ok]
    if missing:
        raise ConfigError(
            "no Tuya cloud credentials: give "
            + " and ".join(missing)
            + " (or set "
            + ", ".join(ENV_VARS[o.strip("-").replace("-", "_")] for o in missing)
            + ")"
        )
    if not (creds.region or creds.base_url):
        raise ConfigError("no Tuya cloud endpoint: give --region or --base-url (or TUYAGATE_CLOUD_REGION)")
    return creds
