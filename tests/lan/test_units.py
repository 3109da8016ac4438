"""Backoff and the event fan-out, without sockets."""

from __future__ import annotations

import pytest

from tuyagate.bus import EventBus
from tuyagate.lan import Backoff, Event, EventKind
from tuyagate.lan.backoff import Pacer
from tuyagate.lan.events import for_child


def test_backoff_grows_caps_and_resets() -> None:
    backoff = Backoff(0.1, 1.0, factor=2.0, jitter=0.2, rand=lambda: 0.5)  # 0.5 = no jitter
    assert [round(backoff.failure(), 3) for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.failure() == pytest.approx(0.1)


def test_backoff_jitter_bounds() -> None:
    assert Backoff(1.0, 1.0, jitter=0.2, rand=lambda: 0.0).failure() == pytest.approx(0.8)
    assert Backoff(1.0, 1.0, jitter=0.2, rand=lambda: 1.0).failure() == pytest.approx(1.2)
    with pytest.raises(ValueError, match="backoff"):
        Backoff(0.0, 1.0)


def test_a_pacer_without_a_backoff_paces_with_the_default_one() -> None:
    pacer = Pacer()
    pacer.succeeded()  # a success needs no backoff at all
    assert pacer.wait(100.0) <= 0
    pacer.failed(100.0)
    pacer.failed(100.0)  # the second step of the default: 0.4 s +- 20 %
    assert 0.32 <= pacer.wait(100.0) <= 0.48
    pacer.succeeded()
    pacer.failed(200.0)  # back to the first step: 0.2 s +- 20 %
    assert 0.16 <= pacer.wait(200.0) <= 0.24


def _status(n: int, cid: str | None = None) -> Event:
    return Event(EventKind.STATUS, "dev", {"1": n}, cid=cid)


def test_child_filter_passes_the_child_and_connection_wide_events() -> None:
    bus: EventBus[Event] = EventBus()
    child = bus.subscribe(accept=for_child("c1"))
    bus.publish(_status(1, cid="c2"))
    bus.publish(_status(2, cid="c1"))
    bus.publish(Event(EventKind.DISCONNECTED, "dev"))
    first, second = child.get_nowait(), child.get_nowait()
    assert first is not None
    assert first.dps == {"1": 2}
    assert second is not None
    assert second.kind is EventKind.DISCONNECTED
    assert child.get_nowait() is None
    assert for_child(None) is None


def test_event_as_dict() -> None:
    assert _status(3, cid="c").as_dict() == {"event": "status", "device": "dev", "cid": "c", "dps": {"1": 3}}
    online = Event(EventKind.ONLINE, "gw", online=["a"], offline=["b"])
    assert online.as_dict() == {"event": "online", "device": "gw", "online": ["a"], "offline": ["b"]}


def test_connection_from_discovery() -> None:
    from tuyagate.lan import DeviceConnection, DiscoveredDevice

    found = DiscoveredDevice("bf12ab34cd56ef78aa01", "127.0.0.1", "3.5", "keyabc")
    conn = DeviceConnection.from_discovery(found, "0123456789abcdef", port=1234)
    assert (conn.device_id, conn.host, conn.port, conn.version) == ("bf12ab34cd56ef78aa01", "127.0.0.1", 1234, "3.5")
    odd = DiscoveredDevice("x", "127.0.0.1", "9.9", None)
    assert DeviceConnection.from_discovery(odd, "0123456789abcdef").version is None  # detected on first use


async def test_ivs_are_fresh_random_bytes_for_35_only() -> None:
    """3.5's IVs come from batched os.urandom: 12 bytes each, none repeated across batches."""
    from tuyagate.lan.link import Link
    from tuyagate.protocol.codec import MessageCodec
    from tuyagate.protocol.versions import get_spec

    class Owner:
        name = "device x"

    key = b"0123456789abcdef"
    link35 = Link(Owner(), MessageCodec(get_spec("3.5"), key))  # type: ignore[arg-type]
    ivs = [link35.new_iv() for _ in range(2000)]  # ~6 batches of 4 KiB
    assert all(iv is not None and len(iv) == 12 for iv in ivs)
    assert len(set(ivs)) == len(ivs)
    assert Link(Owner(), MessageCodec(get_spec("3.3"), key)).new_iv() is None  # type: ignore[arg-type]
