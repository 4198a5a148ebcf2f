"""Each extinguisher rule on a fake clock: fires, near misses, clears (the inspection calendar
is in test_calendar_rules.py). Gauge green band 1.0–1.4 MPa (nominal 1.2) unless registered
otherwise."""

from __future__ import annotations

from rules.decision import Action, Category, Priority
from tests.rules.helpers import (
    EXTINGUISHER,
    Timeline,
    cleared,
    device,
    fired,
    only,
    site_config,
)

KEY = "test-site/extinguisher/ext-1/"
HOUR = 3600.0
DAY = 86400.0


def gauge() -> Timeline:
    return Timeline(ref=EXTINGUISHER)


# -- extinguisher.low_pressure -----------------------------------------------------------------
def test_low_pressure_fires_on_the_second_reading_below_the_band() -> None:
    tl = gauge()
    tl.extinguisher(0, 1.2)
    assert tl.extinguisher(HOUR, 0.95) == []
    out = tl.extinguisher(2 * HOUR, 0.94)
    assert fired(out) == ["extinguisher.low_pressure"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.FACILITY)
    assert d.dedup_key == KEY + "low_pressure"


def test_low_pressure_near_miss_single_dips_and_the_band_edge() -> None:
    tl = gauge()
    for i in range(6):  # below, back, below, back: never two in a row
        tl.extinguisher(i * HOUR, 0.95 if i % 2 else 1.1)
    tl.extinguisher(6 * HOUR, 1.0)  # on the edge of the band is in it
    tl.extinguisher(7 * HOUR, 1.0)
    assert fired(tl.decisions) == []


def test_low_pressure_uses_the_registered_green_band() -> None:
    tl = Timeline(site_config(device(EXTINGUISHER, green_min_mpa=0.8, green_max_mpa=1.2)))
    tl.extinguisher(0, 0.9)
    tl.extinguisher(HOUR, 0.9)
    assert fired(tl.decisions) == []  # in this gauge's band
    tl.extinguisher(2 * HOUR, 0.79)
    assert fired(tl.extinguisher(3 * HOUR, 0.78)) == ["extinguisher.low_pressure"]


def test_low_pressure_clears_by_itself_after_24h_back_in_the_band() -> None:
    tl = gauge()
    tl.extinguisher(0, 0.95)
    tl.extinguisher(HOUR, 0.95)
    tl.extinguisher(2 * HOUR, 1.1)  # refilled
    for i in range(1, 5):
        tl.extinguisher(2 * HOUR + i * 5 * HOUR, 1.1)
    assert cleared(tl.decisions) == []
    assert tl.tick(2 * HOUR + DAY - 1) == []
    out = tl.tick(2 * HOUR + DAY)
    assert cleared(out) == ["extinguisher.low_pressure"]
    assert out[0].auto_resolve is True


def test_low_pressure_clear_restarts_if_it_falls_below_the_band_again() -> None:
    tl = gauge()
    tl.extinguisher(0, 0.95)
    tl.extinguisher(HOUR, 0.95)
    tl.extinguisher(2 * HOUR, 1.1)
    tl.extinguisher(4 * HOUR, 0.95)
    tl.extinguisher(5 * HOUR, 0.95)  # low again: the 24 h start over
    tl.extinguisher(6 * HOUR, 1.1)
    for t in (10 * HOUR, 15 * HOUR, 20 * HOUR, 25 * HOUR):
        tl.extinguisher(t, 1.1)
    assert tl.tick(6 * HOUR + DAY - 1) == []
    assert cleared(tl.tick(6 * HOUR + DAY)) == ["extinguisher.low_pressure"]


# -- extinguisher.over_pressure ----------------------------------------------------------------
def test_over_pressure_fires_on_the_second_reading_above_the_band() -> None:
    tl = gauge()
    assert tl.extinguisher(0, 1.45) == []
    out = tl.extinguisher(HOUR, 1.46)
    assert fired(out) == ["extinguisher.over_pressure"]
    assert (out[0].priority, out[0].category) == (Priority.GENERAL, Category.FACILITY)
    assert out[0].dedup_key == KEY + "over_pressure"


def test_over_pressure_near_miss_at_the_band_edge_or_a_single_reading() -> None:
    tl = gauge()
    tl.extinguisher(0, 1.4)
    tl.extinguisher(HOUR, 1.4)
    tl.extinguisher(2 * HOUR, 1.5)
    tl.extinguisher(3 * HOUR, 1.3)
    assert fired(tl.decisions) == []


def test_over_pressure_clears_by_itself_at_once_back_in_the_band() -> None:
    tl = gauge()
    tl.extinguisher(0, 1.5)
    tl.extinguisher(HOUR, 1.5)
    out = tl.extinguisher(2 * HOUR, 1.35)
    assert cleared(out) == ["extinguisher.over_pressure"]
    assert out[0].auto_resolve is True


# -- extinguisher.discharged -------------------------------------------------------------------
def test_discharged_below_10_percent_of_nominal_fires_at_once() -> None:
    tl = gauge()
    tl.extinguisher(0, 1.2)
    out = tl.extinguisher(60, 0.1)
    assert fired(out) == ["extinguisher.discharged"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.IMPORTANT, Category.SERVICE)
    assert d.dedup_key == KEY + "discharged_or_removed"
    # not also "low pressure": an empty extinguisher is a discharge, not a slow leak
    assert fired(tl.extinguisher(120, 0.09)) == []


def test_discharged_when_half_the_pressure_is_lost_within_an_hour() -> None:
    tl = gauge()
    tl.extinguisher(0, 1.2)
    assert fired(tl.extinguisher(1800, 0.55)) == ["extinguisher.discharged"]


def test_discharged_near_miss_a_smaller_or_slower_loss_is_low_pressure() -> None:
    tl = gauge()
    tl.extinguisher(0, 1.2)
    tl.extinguisher(1800, 0.61)  # lost 49 % within the hour
    assert fired(tl.extinguisher(3600, 0.61)) == ["extinguisher.low_pressure"]
    slow = gauge()
    for i, p in enumerate((1.2, 1.0, 0.8, 0.55, 0.4)):  # 0.2 MPa an hour
        slow.extinguisher(i * HOUR, p)
    assert fired(slow.decisions) == ["extinguisher.low_pressure"]


def test_discharged_clears_when_replaced_and_waits_for_a_person() -> None:
    tl = gauge()
    tl.extinguisher(0, 1.2)
    tl.extinguisher(60, 0.05)
    out = tl.extinguisher(2 * HOUR, 1.2)
    assert cleared(out) == ["extinguisher.discharged"]
    assert out[0].auto_resolve is False


def test_discharged_does_not_clear_while_the_extinguisher_stays_half_empty() -> None:
    tl = gauge()
    tl.extinguisher(0, 1.2)
    assert fired(tl.extinguisher(1800, 0.5)) == ["extinguisher.discharged"]
    # an hour later the full reading has left the rapid-loss window, but nothing was replaced
    tl.extinguisher(2 * HOUR, 0.5)
    tl.extinguisher(3 * HOUR, 0.5)
    assert cleared(tl.decisions) == []
    assert fired(tl.decisions) == ["extinguisher.discharged"]


# -- extinguisher.removed ----------------------------------------------------------------------
def test_removed_from_its_bracket_for_60s() -> None:
    tl = gauge()
    tl.extinguisher(0)
    tl.extinguisher(10, on_bracket=False)
    assert tl.tick(69) == []
    out = tl.tick(70)
    assert fired(out) == ["extinguisher.removed"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.SERVICE)
    assert d.dedup_key == KEY + "discharged_or_removed"


def test_removed_when_tilted_beyond_45_degrees() -> None:
    tl = gauge()
    tl.extinguisher(0, tilt_deg=46.0)
    assert fired(tl.tick(60)) == ["extinguisher.removed"]


def test_removed_near_miss_45_degrees_or_back_within_a_minute() -> None:
    tl = gauge()
    tl.extinguisher(0, tilt_deg=45.0)
    tl.tick(300)
    tl.extinguisher(400, tilt_deg=0.0, on_bracket=False)
    tl.tick(459)
    tl.extinguisher(459.5, on_bracket=True)
    tl.tick(1000)
    assert fired(tl.decisions) == []


def test_removed_clears_by_itself_back_on_the_bracket_upright() -> None:
    tl = gauge()
    tl.extinguisher(0, on_bracket=False, tilt_deg=90.0)
    tl.tick(60)
    assert tl.extinguisher(100, on_bracket=True) == []  # on the bracket, still lying down
    out = tl.extinguisher(110, tilt_deg=2.0)
    assert cleared(out) == ["extinguisher.removed"]
    assert out[0].auto_resolve is True


def test_removed_then_discharged_is_one_ticket_raised_to_important() -> None:
    tl = gauge()
    tl.extinguisher(0, 1.2)
    tl.extinguisher(10, on_bracket=False)
    removed = only(tl.tick(70), "extinguisher.removed")
    discharged = only(tl.extinguisher(200, 0.05), "extinguisher.discharged")
    assert discharged.dedup_key == removed.dedup_key
    assert discharged.priority is Priority.IMPORTANT
    # put back empty: the removal is over, the discharge is not: the shared ticket stays
    out = tl.extinguisher(300, on_bracket=True)
    assert [d.action for d in out] == []
    out = tl.extinguisher(3 * HOUR, 1.2)  # replaced
    assert [(d.action, d.rule) for d in out] == [(Action.CLEAR, "extinguisher.discharged")]
