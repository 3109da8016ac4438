"""An answer's head and body leave the gateway in one ``write``.

uvicorn writes an answer with two ``transport.write`` calls: the status line and headers when the
app sends ``http.response.start``, the body when it sends ``http.response.body``. On uvloop each
call is a ``write`` system call at once, and on loopback each becomes its own TCP segment that the
kernel carries to the client in the gateway's own time (and that wakes the client twice). For a small
JSON answer that second write was a tenth of the gateway's CPU for a cached read.

:class:`HeadHeld` is the transport an answer is written through (uvicorn's ``RequestResponseCycle``
gets it instead of the connection's own): it holds the first write of a spell until the next one
and sends both joined. What is held never waits longer than the current turn of the event loop: a
flush is scheduled when something is held, for an answer whose body comes later (a stream) or never
(``HEAD``), and closing the transport sends what is held first. Order is kept because every write
of a connection's answers goes through it.
"""

from __future__ import annotations

import asyncio

__all__ = ["HeadHeld"]


class HeadHeld(asyncio.Transport):
    """A connection's transport for its answers (see the module docstring); what uvicorn's cycle uses
    of a transport (``write``, ``close``, ``is_closing``, ``get_extra_info``) is all it offers."""

    __slots__ = ("_flush_due", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush_due = False  # a flush is scheduled for this turn of the loop

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            if not self._flush_due:
                self._flush_due = True
                self._loop.call_soon(self._flush_scheduled)
            return
        self._held = None
        self._transport.write(held + data)

    def flush(self) -> None:
        """Send what is held now (before anything else is written to the connection)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def _flush_scheduled(self) -> None:
        self._flush_due = False
        self.flush()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self._transport.get_extra_info(name, default)
