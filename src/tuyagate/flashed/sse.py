"""A sans-IO parser for Server-Sent Events (the ``text/event-stream`` format).

ESPHome's ``/events`` stream is the one push channel a reflashed device offers over HTTP. The parser takes
text in chunks of any size (a line may be split anywhere, even between ``\\r`` and ``\\n``) and returns
the events completed so far, following the WHATWG rules: ``\\r\\n``, ``\\r`` or ``\\n`` end a line; a blank
line dispatches; ``data`` lines are joined with ``\\n``; lines starting with ``:`` are comments; one space
after the colon is dropped; an event with no data is not dispatched. A line longer than ``max_line``
raises :class:`ProtocolError` before it is buffered further, so a peer cannot make us hold unbounded text.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuyagate.errors import ProtocolError

__all__ = ["SseEvent", "SseParser"]


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SseParser:
    """Feed text, get :class:`SseEvent` objects."""

    def __init__(self, *, max_line: int = 256 * 1024) -> None:
        self._buffer = ""
        self._max_line = max_line
        self._event = ""
        self._data: list[str] = []
        self._last_id: str | None = None
        self._retry: int | None = None
        self._started = False

    def feed(self, chunk: str) -> list[SseEvent]:
        """Parse ``chunk`` and return the events it completed (possibly none)."""
        if not self._started and chunk:
            self._started = True
            if chunk.startswith("\ufeff"):
                chunk = chunk[1:]
        self._buffer += chunk
        events: list[SseEvent] = []
        while True:
            cut = self._next_line_end()
            if cut is None:
                break
            end, after = cut
            line = self._buffer[:end]
            self._buffer = self._buffer[after:]
            event = self._line(line)
            if event is not None:
                events.append(event)
        if len(self._buffer) > self._max_line:
            raise ProtocolError(f"event stream line longer than {self._max_line} characters")
        return events

    def _next_line_end(self) -> tuple[int, int] | None:
        buf = self._buffer
        n = buf.find("\n")
        r = buf.find("\r")
        if r == -1 and n == -1:
            return None
        if r == -1 or (n != -1 and n < r):
            return n, n + 1
        # A lone '\r' at the very end may be the first half of '\r\n': wait for more text.
        if r == len(buf) - 1:
            return None
        return (r, r + 2) if buf[r + 1] == "\n" else (r, r + 1)

    def _line(self, line: str) -> SseEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id":
            if "\0" not in value:
                self._last_id = value
        elif field == "retry":
            if value.isdigit():
                self._retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent(event=event or "message", data="\n".join(data), id=self._last_id, retry=self._retry)
