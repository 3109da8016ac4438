"""OpenBeken (OpenBK7231T_App): Tasmota's ``/cm`` API plus what differs, and its channel API.

OpenBeken answers the Tasmota commands tuyagate uses with Tasmota-shaped JSON, so the client is
:class:`TasmotaClient` with these differences:

- the web password is checked with HTTP Basic auth only (user ``admin``); a refusal is HTTP 401;
- ``Status.Power`` stays an integer bit mask; ``CT`` runs 154..500 mired;
- the energy total is ``ConsumptionTotal`` in Wh (Tasmota: ``Total`` in kWh);
- a command it has no JSON answer for is answered ``{}`` (Tasmota: ``{"Command":"Unknown"}``), so an
  unknown command cannot be told from one that answers nothing;
- every value lives in a numbered *channel*; ``/api/channels`` reads them all in one GET and
  ``SetChannel <ch> <value>`` writes one: :meth:`channels` and :meth:`set_channel` give raw access.
"""

from __future__ import annotations

from typing import ClassVar

from tuyagate.errors import ProtocolError, ValidationError
from tuyagate.flashed.http_base import HttpOptions, excerpt, parse_json
from tuyagate.flashed.tasmota import TasmotaClient

__all__ = ["OpenBekenClient"]


class OpenBekenClient(TasmotaClient):
    """One OpenBeken device reached at ``url``."""

    kind: ClassVar[str] = "openbeken"
    product: ClassVar[str] = "OpenBeken"
    mired: ClassVar[tuple[int, int]] = (154, 500)
    energy_total: ClassVar[tuple[str, float]] = ("ConsumptionTotal", 0.001)

    def __init__(self, url: str, *, password: str | None = None, options: HttpOptions | None = None) -> None:
        super().__init__(url, user="admin", password=password, options=options, auth="basic")

    async def channels(self, *, timeout: float | None = None) -> dict[int, int]:
        """Every channel in use and its value (``GET /api/channels``)."""
        response = await self.transport.request("GET", "/api/channels", timeout=timeout)
        doc = parse_json(response.content, self.where)
        if response.status_code != 200 or not isinstance(doc, dict):
            raise ProtocolError(f"{self.where} answered /api/channels with HTTP {response.status_code}")
        try:
            return {int(k): int(v) for k, v in doc.items()}
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: 1e999 reads as infinity
            raise ProtocolError(f"{self.where} sent channels that are not numbers") from exc

    async def set_channel(self, channel: int, value: int, *, timeout: float | None = None) -> int:
        """Write one channel (``SetChannel``; relay channel 1 is ``switch_1``); returns the value it now holds.

        OpenBeken answers this command with a bare number instead of a JSON object.
        """
        if channel < 0 or channel > 63:
            raise ValidationError(f"channel must be 0..63 (got {channel})")
        answer = await self._command_once(f"SetChannel {channel} {int(value)}", False, timeout)
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise ProtocolError(f"{self.where} answered SetChannel with {excerpt(repr(answer))}, expected a number")
        return answer
