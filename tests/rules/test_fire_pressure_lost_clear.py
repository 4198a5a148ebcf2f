"""water.fire_pressure_lost on its own: the existing tests see it clear only as part of the
fire-pressure incident (with water.fire_low_pressure). Here the pressure comes back before
fire_low_pressure's 300 s dwell, so the lost rule's own clear is the incident's end."""

from __future__ import annotations

from gateway.topics import DeviceRef, Kind
from tests.rules.helpers import SITE, Timeline, cleared, device, fired, site_config

FIRE_MAIN = DeviceRef(SITE, Kind.WATER_PRESSURE, "wp-fire")


def fire_network() -> Timeline:
    return Timeline(site_config(device(FIRE_MAIN, network="fire")), ref=FIRE_MAIN)


def test_fire_pressure_lost_clears_after_1800s_restored_and_waits_for_a_person() -> None:
    tl = fire_network()
    tl.water(0, 0.0, FIRE_MAIN)
    assert fired(tl.tick(120)) == ["water.fire_pressure_lost"]
    tl.water_every(150, 1940, 60, 0.30, ref=FIRE_MAIN)  # restored at 150 s, reporting
    assert cleared(tl.decisions) == []
    assert tl.tick(1949) == []  # 1,799 s restored: not yet (fire_clear_s 1800)
    out = tl.tick(1950)
    assert cleared(out) == ["water.fire_pressure_lost"]
    assert all(d.auto_resolve is False for d in out)  # recorded; a person closes it
    assert "water.fire_low_pressure" not in fired(tl.decisions)


def test_fire_pressure_lost_clear_restarts_when_the_pressure_falls_again() -> None:
    tl = fire_network()
    tl.water(0, 0.0, FIRE_MAIN)
    tl.tick(120)
    tl.water(150, 0.30, FIRE_MAIN)
    tl.water(1000, 0.0, FIRE_MAIN)  # lost again before the 1800 s are up
    tl.water(1010, 0.30, FIRE_MAIN)
    tl.water_every(1070, 1940, 60, 0.30, ref=FIRE_MAIN)
    assert tl.tick(1950) == []  # the first restoration no longer counts
    tl.water_every(2000, 2780, 60, 0.30, ref=FIRE_MAIN)
    assert cleared(tl.decisions) == []
    assert tl.tick(2809) == []
    assert cleared(tl.tick(2810)) == ["water.fire_pressure_lost"]  # 1800 s after 1010 s
