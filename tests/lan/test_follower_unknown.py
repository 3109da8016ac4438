"""The discovery follower remembers devices it has no connection for, in a bounded table."""

from __future__ import annotations

from tuyagate.lan import follower as follower_module
from tuyagate.lan.follower import DiscoveryFollower


def test_unknown_devices_are_remembered_and_counted() -> None:
    follower = DiscoveryFollower({})
    follower.seen("bfunknown00000000001", "127.0.9.50", version="3.3", product_key="key1")
    follower.seen("bfunknown00000000001", "127.0.9.51", version="3.3", product_key="key1")
    [entry] = follower.discovered
    assert entry.ip == "127.0.9.51"  # the latest address
    assert entry.announcements == 2
    assert entry.first_seen <= entry.last_seen


def test_the_table_is_bounded() -> None:
    follower = DiscoveryFollower({})
    for n in range(follower_module.MAX_UNKNOWN + 10):
        follower.seen(f"bfflood{n:013d}", "127.0.9.60")
    ids = {d.device_id for d in follower.discovered}
    assert len(ids) == follower_module.MAX_UNKNOWN
    assert f"bfflood{follower_module.MAX_UNKNOWN + 9:013d}" in ids  # the newest are kept
