"""The SSE parser: WHATWG line rules, any chunking, bounded lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuyagate.errors import ProtocolError
from tuyagate.flashed.sse import SseEvent, SseParser

STREAM = (
    'retry: 30000\r\nid: 17\r\nevent: ping\r\ndata: {"title":"x"}\r\n\r\n'
    ": a comment\n"
    'event: state\ndata: {"id":"switch/Relay",\n'
    'data: "state":"ON"}\n\n'
    "data:no space\rdata:  two spaces\r\r"
    "event: empty\n\n"
    "field-without-colon\ndata\n\n"
)
EXPECTED = [
    SseEvent("ping", '{"title":"x"}', "17", 30000),
    SseEvent("state", '{"id":"switch/Relay",\n"state":"ON"}', "17", 30000),
    SseEvent("message", "no space\n two spaces", "17", 30000),
    SseEvent("message", "", "17", 30000),
]


def test_parses_a_whole_stream() -> None:
    assert SseParser().feed(STREAM) == EXPECTED


def test_byte_at_a_time_and_cr_lf_split_across_chunks() -> None:
    parser = SseParser()
    events = [e for ch in STREAM for e in parser.feed(ch)]
    assert events == EXPECTED


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    parser = SseParser()
    assert [e for c in chunks for e in parser.feed(c)] == EXPECTED


def test_leading_bom_is_ignored_and_incomplete_event_is_held() -> None:
    parser = SseParser()
    assert parser.feed("\ufeffevent: state\ndata: 1\n") == []
    assert parser.feed("\n") == [SseEvent("state", "1")]


def test_invalid_retry_and_id_with_nul_are_ignored() -> None:
    assert SseParser().feed("retry: soon\nid: a\0b\ndata: x\n\n") == [SseEvent("message", "x")]


def test_an_endless_line_is_rejected() -> None:
    parser = SseParser(max_line=64)
    with pytest.raises(ProtocolError, match="longer than 64"):
        parser.feed("data: " + "x" * 100)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_events_or_protocol_error(text: str) -> None:
    try:
        events = SseParser(max_line=128).feed(text)
    except ProtocolError:
        return
    assert all(isinstance(e, SseEvent) for e in events)
