"""Each patrol rule on a fake clock: missed checkpoints, rescans, inactive guards and misses per
shift, with shifts in the site's time zone. The timeline starts at 08:00 in Asia/Shanghai, the
start of the default day shift (08:00–20:00; night 20:00–08:00)."""

from __future__ import annotations

from typing import Any

from gateway.topics import DeviceRef, Kind
from rules.decision import Category, Priority
from tests.rules.helpers import (
    CHECKPOINT,
    SITE,
    Timeline,
    cleared,
    device,
    fired,
    only,
    site_config,
)

CP2 = DeviceRef(SITE, Kind.PATROL, "cp-2")
CP3 = DeviceRef(SITE, Kind.PATROL, "cp-3")
KEY = "test-site/patrol/cp-1/"
INTERVAL_S = 2 * 3600.0  # default interval_min 120
DUE_S = INTERVAL_S * 1.2  # 8640 s with the 20 % tolerance


def checkpoints(*refs: DeviceRef, tz: str = "Asia/Shanghai", **params: Any) -> Timeline:
    """Registered checkpoints, watched from the start of the timeline."""
    return Timeline(
        site_config(*(device(r, **params) for r in refs or (CHECKPOINT,)), timezone=tz),
        ref=CHECKPOINT,
    )


# -- patrol.missed_checkpoint ------------------------------------------------------------------
def test_missed_checkpoint_fires_once_past_the_interval_plus_20_percent() -> None:
    tl = checkpoints()
    tl.scan(100)
    assert tl.tick(100 + DUE_S) == []  # due, not yet late
    out = tl.tick(100 + DUE_S + 5)  # the next 5 s scan
    d = only(out, "patrol.missed_checkpoint")  # (and its guard has been inactive as long)
    assert (d.priority, d.category) == (Priority.GENERAL, Category.SERVICE)
    assert d.dedup_key == KEY + "missed"
    assert tl.tick(100 + DUE_S + 600) == []  # once


def test_missed_checkpoint_counts_from_the_start_before_any_scan() -> None:
    tl = checkpoints()
    assert tl.tick(DUE_S) == []
    assert fired(tl.tick(DUE_S + 5)) == ["patrol.missed_checkpoint"]


def test_missed_checkpoint_uses_the_checkpoints_interval() -> None:
    tl = checkpoints(interval_min=30)
    tl.scan(100)
    assert tl.tick(100 + 2160) == []
    assert fired(tl.tick(100 + 2165)) == ["patrol.missed_checkpoint"]


def test_missed_checkpoint_near_miss_scanned_just_in_time_or_not_a_key_area() -> None:
    tl = checkpoints()
    tl.scan(100)
    tl.tick(100 + DUE_S - 5)
    tl.scan(100 + DUE_S - 1)
    tl.tick(100 + 2 * DUE_S - 10)
    assert fired(tl.decisions) == []
    relaxed = checkpoints(key_area=False)
    relaxed.scan(100)
    relaxed.tick(10 * DUE_S)
    assert fired(relaxed.decisions) == []


def test_missed_checkpoint_clears_by_itself_on_the_next_scan() -> None:
    tl = checkpoints()
    tl.scan(100)
    tl.tick(100 + DUE_S + 5)
    out = tl.scan(100 + DUE_S + 60)
    assert cleared(out) == ["patrol.missed_checkpoint"]
    assert out[0].auto_resolve is True


# -- patrol.missed_repeatedly ------------------------------------------------------------------
def test_missed_repeatedly_past_two_intervals_is_important_in_the_same_ticket() -> None:
    tl = checkpoints()
    tl.scan(100)
    first = only(tl.tick(100 + DUE_S + 5), "patrol.missed_checkpoint")
    late = 100 + 2.4 * INTERVAL_S
    assert tl.tick(late) == []
    out = tl.tick(late + 5)
    assert fired(out) == ["patrol.missed_repeatedly"]
    assert out[0].priority is Priority.IMPORTANT
    assert out[0].dedup_key == first.dedup_key


def test_missed_repeatedly_near_miss_scanned_after_one_miss() -> None:
    tl = checkpoints()
    tl.scan(100)
    tl.tick(100 + DUE_S + 5)
    tl.scan(100 + 2.4 * INTERVAL_S - 5)
    tl.tick(100 + 2.4 * INTERVAL_S + 5)
    assert "patrol.missed_repeatedly" not in fired(tl.decisions)


def test_missed_repeatedly_clears_by_itself_on_the_next_scan() -> None:
    tl = checkpoints()
    tl.scan(100)
    tl.tick(100 + DUE_S + 5)
    tl.tick(100 + 2.4 * INTERVAL_S + 5)
    out = tl.scan(100 + 2.5 * INTERVAL_S)
    assert sorted(cleared(out)) == ["patrol.missed_checkpoint", "patrol.missed_repeatedly"]
    assert all(d.auto_resolve for d in out)


# -- patrol.suspicious_rescan ------------------------------------------------------------------
def test_suspicious_rescan_two_scans_under_a_minute_apart() -> None:
    tl = checkpoints()
    tl.scan(100)
    out = tl.scan(130)
    assert fired(out) == ["patrol.suspicious_rescan"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.SERVICE)
    assert d.dedup_key == KEY + "suspicious_rescan"


def test_suspicious_rescan_near_miss_exactly_a_minute_apart() -> None:
    tl = checkpoints()
    tl.scan(100)
    tl.scan(160)
    assert fired(tl.decisions) == []


def test_suspicious_rescan_near_miss_the_first_scan_is_no_rescan() -> None:
    registered = checkpoints()  # watched since the start: that is not a scan
    assert fired(registered.scan(10)) == []
    unregistered = Timeline(ref=CHECKPOINT)
    assert fired(unregistered.scan(10)) == []
    assert fired(unregistered.scan(500)) == []


def test_suspicious_rescan_ends_at_the_next_normal_scan_and_waits_for_a_person() -> None:
    tl = checkpoints()
    tl.scan(100)
    tl.scan(130)
    out = tl.scan(1000)
    assert cleared(out) == ["patrol.suspicious_rescan"]
    assert out[0].auto_resolve is False


# -- patrol.guard_inactive ---------------------------------------------------------------------
GUARD_KEY = "test-site/patrol/guard-g1/guard_inactive"


def test_guard_inactive_after_8640s_without_a_scan_in_the_same_shift() -> None:
    tl = checkpoints(key_area=False)  # no misses: only the guard is watched
    tl.scan(0)  # 08:00
    assert tl.tick(8640) == []
    out = tl.tick(8645)
    assert fired(out) == ["patrol.guard_inactive"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.IMPORTANT, Category.SERVICE)
    assert d.dedup_key == GUARD_KEY
    assert d.evidence["guard_id"] == "g1"


def test_guard_inactive_is_per_guard_and_any_checkpoint_counts() -> None:
    tl = checkpoints(CHECKPOINT, CP2, key_area=False)
    tl.scan(0, CHECKPOINT, guard="g1")
    tl.scan(0, CP2, guard="Night Guard 2")
    tl.scan(5000, CP2, guard="g1")  # g1 moved on to another checkpoint
    out = tl.tick(8645)
    assert fired(out) == ["patrol.guard_inactive"]
    assert out[0].dedup_key == "test-site/patrol/guard-night-guard-2/guard_inactive"


def test_guard_inactive_near_miss_the_shift_ends_first() -> None:
    tl = checkpoints(key_area=False)
    last = tl.local("2026-01-01 19:00")
    tl.scan(last)  # an hour before the end of the day shift
    tl.ticks(last + 8000, last + 10000, 60)
    assert fired(tl.decisions) == []


def test_guard_inactive_shifts_are_in_the_site_time_zone() -> None:
    # the same scan at the same instant: 08:00 in Shanghai, but 19:00 in New York, an hour
    # before its day shift ends
    shanghai = checkpoints(key_area=False)
    shanghai.scan(0)
    new_york = checkpoints(key_area=False, tz="America/New_York")
    new_york.scan(0)
    assert fired(shanghai.tick(8645)) == ["patrol.guard_inactive"]
    assert new_york.tick(8645) == []


def test_guard_inactive_clears_by_itself_when_the_guard_scans() -> None:
    tl = checkpoints(key_area=False)
    tl.scan(0)
    tl.tick(8645)
    tl.scan(9000)
    out = tl.tick(9005)
    assert cleared(out) == ["patrol.guard_inactive"]
    assert out[0].auto_resolve is True
    assert out[0].dedup_key == GUARD_KEY


def test_guard_inactive_clears_by_itself_at_the_end_of_the_shift() -> None:
    tl = checkpoints(key_area=False)
    tl.scan(tl.local("2026-01-01 09:00"))
    assert fired(tl.tick(tl.local("2026-01-01 12:00"))) == ["patrol.guard_inactive"]
    assert tl.tick(tl.local("2026-01-01 19:59:55")) == []
    out = tl.tick(tl.local("2026-01-01 20:00"))
    assert cleared(out) == ["patrol.guard_inactive"]
    assert out[0].auto_resolve is True


# -- patrol.shift_misses -----------------------------------------------------------------------
SHIFT_KEY = "test-site/patrol/site/shift_misses"


def test_shift_misses_three_misses_in_one_shift_is_important() -> None:
    tl = checkpoints(CHECKPOINT, CP2, CP3, interval_min=60)
    out = tl.tick(4325)  # none of the three scanned within 72 min
    assert fired(out).count("patrol.missed_checkpoint") == 3
    d = only(out, "patrol.shift_misses")
    assert (d.priority, d.category) == (Priority.IMPORTANT, Category.SERVICE)
    assert d.dedup_key == SHIFT_KEY


def test_shift_misses_counts_repeated_misses_of_one_checkpoint() -> None:
    tl = checkpoints(interval_min=60)
    tl.tick(4325)  # miss 1
    tl.scan(4400)
    tl.tick(4400 + 4325)  # miss 2
    tl.scan(9000)
    assert "patrol.shift_misses" not in fired(tl.decisions)
    out = tl.tick(9000 + 4325)  # miss 3, same day shift
    assert "patrol.shift_misses" in fired(out)


def test_shift_misses_near_miss_misses_spread_over_two_shifts() -> None:
    tl = checkpoints(CHECKPOINT, CP2, interval_min=60)
    tl.tick(4325)  # two misses in the day shift
    scans = [5000 + 3600 * k for k in range(11)]  # hourly rounds until 19:23
    for t in scans:
        tl.scan(t, CHECKPOINT)
        tl.scan(t, CP2)
    tl.tick(tl.local("2026-01-01 21:00"))  # both missed again, in the night shift
    assert fired(tl.decisions).count("patrol.missed_checkpoint") == 4
    assert "patrol.shift_misses" not in fired(tl.decisions)


def test_shift_misses_clears_by_itself_when_the_shift_ends() -> None:
    tl = checkpoints(CHECKPOINT, CP2, CP3, interval_min=60)
    assert "patrol.shift_misses" in fired(tl.tick(4325))
    tl.tick(8700)  # (missed twice in a row by now: 2 × 60 min × 1.2)
    assert tl.tick(tl.local("2026-01-01 19:59:55")) == []
    out = tl.tick(tl.local("2026-01-01 20:00"))
    assert cleared(out) == ["patrol.shift_misses"]
    assert out[0].auto_resolve is True
    assert out[0].dedup_key == SHIFT_KEY
