"""Calendar rules from the site file's dates, checked on the hourly scan in the site's time
zone, cleared by a reload with a newer date. The timeline starts at 2026-01-01 08:00 in
Asia/Shanghai (00:00 UTC)."""

from __future__ import annotations

from typing import Any

from gateway.topics import DeviceRef
from rules.decision import Category, Priority
from steward.site import StewardConfig
from tests.rules.helpers import (
    ELEVATOR,
    EXTINGUISHER,
    Timeline,
    cleared,
    device,
    fired,
    site_config,
)

HOUR = 3600.0


def lift(tz: str = "Asia/Shanghai", **params: Any) -> StewardConfig:
    return site_config(device(ELEVATOR, **params), timezone=tz)


def gauge(**params: Any) -> StewardConfig:
    return site_config(device(EXTINGUISHER, **params))


# -- elevator.maintenance_overdue --------------------------------------------------------------
def test_maintenance_overdue_more_than_15_days_after_the_last_maintenance() -> None:
    # maintained 2025-12-16: due by 2025-12-31, overdue from 2026-01-01 00:00 local
    tl = Timeline(lift(last_maintenance="2025-12-16"))
    out = tl.tick(0)  # no telemetry needed: the first scan checks every registered device
    assert fired(out) == ["elevator.maintenance_overdue"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.SERVICE)
    assert d.dedup_key == "test-site/elevator/elv-1/maintenance_overdue"
    assert tl.tick(10 * HOUR) == []  # once


def test_maintenance_overdue_near_miss_on_the_due_day() -> None:
    # maintained 2025-12-17: due on 2026-01-01 (all day), overdue from 2026-01-02 00:00 local
    tl = Timeline(lift(last_maintenance="2025-12-17"))
    assert tl.tick(0) == []
    assert tl.tick(tl.local("2026-01-02 00:00")) == []  # the hourly scan at midnight
    assert fired(tl.tick(tl.local("2026-01-02 01:00"))) == ["elevator.maintenance_overdue"]


def test_maintenance_overdue_days_are_counted_in_the_site_time_zone() -> None:
    # maintained 2025-12-17: overdue from 2026-01-02 00:00 local, which is 16 h after the
    # start in Shanghai (see above) but 24 h after it in UTC
    tl = Timeline(lift(tz="UTC", last_maintenance="2025-12-17"))
    assert tl.tick(16 * HOUR) == []
    assert tl.tick(24 * HOUR) == []
    assert fired(tl.tick(25 * HOUR)) == ["elevator.maintenance_overdue"]


def test_maintenance_overdue_needs_a_date_and_a_registration() -> None:
    tl = Timeline(lift())  # no last_maintenance
    tl.tick(0)
    tl.at(10)
    unregistered = Timeline()
    unregistered.at(0)
    unregistered.tick(500)
    assert fired(tl.decisions) == fired(unregistered.decisions) == []


def test_maintenance_overdue_clears_by_itself_when_a_newer_date_is_loaded() -> None:
    tl = Timeline(lift(last_maintenance="2025-12-01"))
    tl.tick(0)
    tl.reconfigure(lift(last_maintenance="2025-12-10"))  # newer, still overdue
    assert tl.tick(60) == []
    tl.reconfigure(lift(last_maintenance="2025-12-31"))
    out = tl.tick(120)  # re-checked at the first tick after the reload, not an hour later
    assert cleared(out) == ["elevator.maintenance_overdue"]
    assert out[0].auto_resolve is True


# -- elevator.inspection_due -------------------------------------------------------------------
def test_inspection_due_30_days_before_the_certificate_expires() -> None:
    tl = Timeline(lift(inspection_expires="2026-01-31"))
    out = tl.tick(0)
    assert fired(out) == ["elevator.inspection_due"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.SERVICE)
    assert d.dedup_key == "test-site/elevator/elv-1/inspection_due"


def test_inspection_due_near_miss_31_days_before() -> None:
    tl = Timeline(lift(inspection_expires="2026-02-01"))  # notice from 2026-01-02 00:00 local
    assert tl.tick(0) == []
    assert tl.tick(tl.local("2026-01-01 23:00")) == []
    assert fired(tl.tick(tl.local("2026-01-02 00:00"))) == ["elevator.inspection_due"]


def test_inspection_due_clears_by_itself_when_a_later_expiry_is_loaded() -> None:
    tl = Timeline(lift(inspection_expires="2026-01-20"))
    tl.tick(0)
    tl.reconfigure(lift(inspection_expires="2027-01-20"))
    out = tl.tick(30)
    assert cleared(out) == ["elevator.inspection_due"]
    assert out[0].auto_resolve is True


def test_calendar_notice_periods_follow_the_site_file() -> None:
    rules = {"elevator": {"maintenance_interval_days": 30, "inspection_notice_days": 10}}
    tl = Timeline(
        site_config(
            device(ELEVATOR, last_maintenance="2025-12-16", inspection_expires="2026-01-31"),
            rules=rules,
        )
    )
    assert tl.tick(0) == []


# -- extinguisher.inspection_overdue -----------------------------------------------------------
def test_extinguisher_inspection_overdue_more_than_30_days_after() -> None:
    tl = Timeline(gauge(last_inspection="2025-12-01"), ref=EXTINGUISHER)
    out = tl.tick(0)
    assert fired(out) == ["extinguisher.inspection_overdue"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.SERVICE)
    assert d.dedup_key == "test-site/extinguisher/ext-1/inspection_overdue"


def test_extinguisher_inspection_overdue_near_miss_on_the_30th_day() -> None:
    tl = Timeline(gauge(last_inspection="2025-12-02"), ref=EXTINGUISHER)
    assert tl.tick(0) == []
    assert tl.tick(tl.local("2026-01-02 00:00")) == []
    assert fired(tl.tick(tl.local("2026-01-02 01:00"))) == ["extinguisher.inspection_overdue"]


def test_extinguisher_inspection_in_a_basement_is_every_15_days() -> None:
    basement = Timeline(gauge(last_inspection="2025-12-16", basement=True), ref=EXTINGUISHER)
    ground = Timeline(gauge(last_inspection="2025-12-16"), ref=EXTINGUISHER)
    assert fired(basement.tick(0)) == ["extinguisher.inspection_overdue"]
    assert ground.tick(0) == []


def test_extinguisher_inspection_overdue_clears_by_itself_on_a_newer_date() -> None:
    tl = Timeline(gauge(last_inspection="2025-11-01"), ref=EXTINGUISHER)
    tl.tick(0)
    tl.reconfigure(gauge(last_inspection="2025-12-30"))
    out = tl.tick(5)
    assert cleared(out) == ["extinguisher.inspection_overdue"]
    assert out[0].auto_resolve is True


def test_devices_with_the_same_params_share_one_calendar_view() -> None:
    """The views are read-only and shared (rules.calendar.calendar_view); a device with
    thresholds of its own, or other params, has its own."""
    day = "2025-12-16"
    lifts = [ELEVATOR, *(DeviceRef(ELEVATOR.site, ELEVATOR.kind, f"e{n}") for n in (2, 3))]
    config = site_config(
        device(lifts[0], last_maintenance=day),
        device(lifts[1], last_maintenance=day),
        device(lifts[2], thresholds={"maintenance_interval_days": 30}, last_maintenance=day),
        device(EXTINGUISHER),
    )
    tl = Timeline(config)
    views = [tl.engine.devices[ref.key].calendar_view for ref in (*lifts, EXTINGUISHER)]
    assert views[0] is views[1]
    assert views[2] is not views[0] and views[2] is not None
    assert views[2].rules.elevator.maintenance_interval_days == 30
    assert views[3] is not None and views[3] is not views[0]
    assert fired(tl.tick(0)) == ["elevator.maintenance_overdue"] * 2  # not the 30-day one
