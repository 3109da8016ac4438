"""Tuya data centers and their OpenAPI base URLs (cloud-api.md §5)."""

from __future__ import annotations

from dataclasses import dataclass

from tuyagate.errors import ConfigError

__all__ = ["REGIONS", "Region", "resolve_base_url"]


@dataclass(frozen=True, slots=True)
class Region:
    """One data center."""

    code: str
    name: str
    base_url: str
    aliases: tuple[str, ...] = ()


REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("cn", "China", "https://openapi.tuyacn.com"),
        Region("us", "Western America", "https://openapi.tuyaus.com", ("az",)),
        Region("us-e", "Eastern America (Azure)", "https://openapi-ueaz.tuyaus.com", ("ue",)),
        Region("eu", "Central Europe", "https://openapi.tuyaeu.com"),
        Region("eu-w", "Western Europe (Azure)", "https://openapi-weaz.tuyaeu.com", ("we",)),
        Region("in", "India", "https://openapi.tuyain.com"),
        Region("sg", "Singapore", "https://openapi-sg.iotbing.com"),
    )
}
_BY_NAME = {name: r for r in REGIONS.values() for name in (r.code, *r.aliases)}


def resolve_base_url(region: str | None = None, base_url: str | None = None) -> str:
    """The OpenAPI base URL for a region code (or alias), or the custom ``base_url`` as given.

    Exactly one of the two is needed; a custom base URL wins (it is how emulators are reached).
    """
    if base_url:
        url = base_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"base URL {base_url!r} must start with http:// or https://")
        return url
    if not region:
        raise ConfigError("no Tuya cloud endpoint: give a region (" + ", ".join(REGIONS) + ") or a base URL")
    found = _BY_NAME.get(region.strip().lower())
    if found is None:
        raise ConfigError(f"unknown Tuya region {region!r}; known: " + ", ".join(REGIONS))
    return found.base_url
