"""Keep web pages in the user's own browser away from the gateway.

A gateway on 127.0.0.1 without tokens trusts everything on the machine -- including, unless told
otherwise, any web site the user visits: a page can make the browser fire
``<img src="http://127.0.0.1:8780/tasmota/plug/cm?cmnd=Power%20Off">`` or a ``text/plain`` POST
(cross-site request forgery), or rebind its own host name to 127.0.0.1 and then read the API as
"same origin" (DNS rebinding). Two cheap checks stop both, without affecting scripts, curl,
SDKs or the explorer at ``/docs``:

- cross-site browser requests are refused: ``Sec-Fetch-Site: cross-site|same-site``, or an ``Origin``
  that is not the gateway's own;
- while no API token is required, only loopback host names are accepted in ``Host``. Behind a
  reverse proxy or under another name, create an API token (which turns this check off).
"""

from __future__ import annotations

import functools
import ipaddress

from tuyagate.gateway.errors import ApiError
from tuyagate.gateway.guard import Guard

__all__ = ["BrowserGuard", "is_loopback_host"]


def _hostname(host_header: str) -> str:
    """``[::1]:8780`` -> ``::1``; ``localhost:8780`` -> ``localhost``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@functools.lru_cache(maxsize=256)  # checked on every request; parsing an address costs ~15 us
def is_loopback_host(host_header: str) -> bool:
    name = _hostname(host_header)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _origin_host(origin: str) -> str:
    return origin.split("://", 1)[-1].rstrip("/").lower()


class BrowserGuard:
    """The two checks, made by the front door (:mod:`tuyagate.gateway.front_door`) on every request."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def admit(self, host: str, origin: str, fetch_site: str) -> None:
        """Raise :class:`ApiError` 403 for a cross-site request or a foreign host name while tokens are off.

        ``host``, ``origin`` and ``fetch_site`` are the request's headers ("" when absent).
        """
        fetch_site = fetch_site.lower()
        if fetch_site in ("cross-site", "same-site") or (origin and _origin_host(origin) != host.lower()):
            raise ApiError(403, "cross_site_request", "requests from other web sites are not accepted")
        if host and not is_loopback_host(host) and not self.guard.required():
            raise ApiError(
                403,
                "host_not_allowed",
                f"host name {_hostname(host)!r} is not accepted without API tokens; create one to allow it",
            )
