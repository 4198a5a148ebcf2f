"""Site-file settings on the rules: rule overrides (priority, category, ``enabled: false``),
global and per-device thresholds and params, and reloads (``reconfigure``) that keep what is
firing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.topics import DeviceRef, Kind
from rules.decision import Category, Priority
from rules.engine import ALL_RULES, RULES_BY_ID, check_overrides
from steward.site import ConfigError, RulesConfig, StewardConfig, load_site_config
from tests.rules.helpers import (
    CHECKPOINT,
    ELEVATOR,
    EXTINGUISHER,
    SITE,
    WATER,
    Timeline,
    cleared,
    device,
    fired,
    only,
    site_config,
)

LIFT_2 = DeviceRef(SITE, Kind.ELEVATOR, "elv-2")
A = DeviceRef(SITE, Kind.WATER_PRESSURE, "wp-a")
B = DeviceRef(SITE, Kind.WATER_PRESSURE, "wp-b")
TRAPPED: dict[str, Any] = {"moving": False, "door_zone": False, "occupied": True, "floor": 7}


# -- rule overrides ----------------------------------------------------------------------------
def test_override_changes_priority_and_category_of_the_decisions() -> None:
    config = RulesConfig.model_validate(
        {"overrides": {"elevator.power_loss": {"priority": "important", "category": "service"}}}
    )
    tl = Timeline(config)
    tl.at(0, mains_power=False)
    d = only(tl.tick(10), "elevator.power_loss")
    assert (d.priority, d.category) == (Priority.IMPORTANT, Category.SERVICE)
    out = tl.at(20, mains_power=True)
    tl.tick(80)
    clear = only(tl.decisions, "elevator.power_loss", d.action.CLEAR)
    assert (clear.priority, clear.category) == (Priority.IMPORTANT, Category.SERVICE)
    assert out == []


def test_override_of_the_priority_only_keeps_the_category() -> None:
    config = RulesConfig.model_validate({"overrides": {"water.burst": {"priority": "emergency"}}})
    tl = Timeline(config, ref=WATER)
    tl.water_every(0, 600, 30, 0.35, wobble=-0.002)
    tl.water(630, 0.20)
    d = only(tl.tick(930), "water.burst")
    assert (d.priority, d.category) == (Priority.EMERGENCY, Category.FACILITY)


def test_override_shows_in_the_alerts() -> None:
    config = RulesConfig.model_validate(
        {"overrides": {"elevator.fire_mode": {"priority": "emergency"}}}
    )
    tl = Timeline(config)
    tl.at(0, mode="fire")
    tl.tick(60)
    (alert,) = tl.engine.alerts()
    assert (alert.rule, alert.priority) == ("elevator.fire_mode", "emergency")


def test_override_disabled_rule_never_fires_and_the_others_still_do() -> None:
    config = RulesConfig.model_validate({"overrides": {"elevator.entrapment": {"enabled": False}}})
    tl = Timeline(config)
    tl.at(0, **TRAPPED, alarm=True)
    tl.tick(300)
    assert fired(tl.decisions) == ["elevator.alarm_button"]


@pytest.mark.parametrize(
    "rule",
    ["device.offline", "elevator.maintenance_overdue", "patrol.guard_inactive"],
)
def test_override_disables_health_calendar_and_guard_rules_too(rule: str) -> None:
    config = site_config(
        device(ELEVATOR, last_maintenance="2025-01-01"),
        device(CHECKPOINT, key_area=False),
        rules={"overrides": {rule: {"enabled": False}}},
    )
    tl = Timeline(config)
    tl.at(0)
    tl.scan(0)
    tl.tick(4 * 3600)
    assert rule not in fired(tl.decisions)
    assert fired(tl.decisions)  # the other two still fire


def test_override_can_be_switched_off_by_a_reload() -> None:
    tl = Timeline(site_config(device(ELEVATOR)))
    tl.reconfigure(
        site_config(
            device(ELEVATOR), rules={"overrides": {"elevator.power_loss": {"enabled": False}}}
        )
    )
    tl.at(0, mains_power=False)
    tl.tick(300)
    assert fired(tl.decisions) == []


def test_override_disabling_a_firing_rule_lets_its_incident_end() -> None:
    tl = Timeline(site_config(device(ELEVATOR)))
    tl.at(0, **TRAPPED, alarm=True)
    tl.tick(31)
    assert fired(tl.decisions) == ["elevator.alarm_button", "elevator.entrapment"]
    off = {"overrides": {"elevator.alarm_button": {"enabled": False}}}
    tl.reconfigure(site_config(device(ELEVATOR), rules=off))
    assert [a.rule for a in tl.engine.alerts()] == ["elevator.entrapment"]
    tl.at(40, alarm=False)
    out = tl.at(300, door="open", door_zone=True)  # at a landing: the entrapment is over
    assert cleared(out) == ["elevator.entrapment"]


def test_override_disabled_rule_is_not_restored_as_firing() -> None:
    off = {"overrides": {"elevator.alarm_button": {"enabled": False}}}
    tl = Timeline(site_config(device(ELEVATOR), rules=off))
    tl.engine.restore([(ELEVATOR, "elevator.alarm_button", tl.t0)])
    assert tl.engine.alerts() == []
    tl.at(0, **TRAPPED)
    tl.tick(30)
    assert cleared(tl.at(100, door="open", door_zone=True)) == ["elevator.entrapment"]


def test_override_of_an_unknown_rule_is_reported() -> None:
    config = RulesConfig.model_validate(
        {"overrides": {"elevator.entrapmnet": {"enabled": False}, "water.outage": {}}}
    )
    assert check_overrides(config) == [
        "rules.overrides.elevator.entrapmnet: no such rule (see docs/rules.md)"
    ]


def test_override_every_rule_id_is_known() -> None:
    config = RulesConfig.model_validate({"overrides": {r.id: {} for r in ALL_RULES}})
    assert check_overrides(config) == []
    assert set(RULES_BY_ID) == {r.id for r in ALL_RULES}


# -- thresholds: global and per device ---------------------------------------------------------
def test_global_thresholds_from_the_site_file() -> None:
    tl = Timeline(site_config(device(ELEVATOR), rules={"elevator": {"power_loss_s": 30}}))
    tl.at(0, mains_power=False)
    assert tl.tick(29) == []
    assert fired(tl.tick(30)) == ["elevator.power_loss"]


def test_per_device_elevator_thresholds_override_the_global_ones() -> None:
    config = site_config(
        device(ELEVATOR, thresholds={"entrapment_s": 10}),
        device(LIFT_2),
        rules={"elevator": {"entrapment_s": 20}},
    )
    tl = Timeline(config)
    tl.at(0, **TRAPPED)
    tl.send(0, LIFT_2, **TRAPPED)
    assert fired(tl.tick(10)) == ["elevator.entrapment"]
    assert tl.decisions[0].ref == ELEVATOR
    out = tl.tick(20)
    assert fired(out) == ["elevator.entrapment"]
    assert out[0].ref == LIFT_2
    assert out[0].evidence["threshold_s"] == 20


def test_per_device_water_thresholds() -> None:
    tl = Timeline(site_config(device(A, thresholds={"outage_s": 30, "low_mpa": 0.15})), ref=A)
    tl.water(0, 0.0, A)
    assert fired(tl.tick(30)) == ["water.outage"]
    low = Timeline(site_config(device(A, thresholds={"low_mpa": 0.15})), ref=A)
    low.water(0, 0.14, A)
    assert fired(low.tick(600)) == ["water.low_pressure"]


def test_per_device_extinguisher_thresholds() -> None:
    tl = Timeline(
        site_config(device(EXTINGUISHER, thresholds={"consecutive_readings": 1})),
        ref=EXTINGUISHER,
    )
    assert fired(tl.extinguisher(0, 0.95)) == ["extinguisher.low_pressure"]


def test_per_device_patrol_thresholds_and_interval() -> None:
    tl = Timeline(
        site_config(device(CHECKPOINT, interval_min=30, thresholds={"tolerance_ratio": 0.0})),
        ref=CHECKPOINT,
    )
    tl.scan(100)
    assert tl.tick(1900) == []
    assert fired(tl.tick(1905)) == ["patrol.missed_checkpoint"]


def test_per_device_calendar_thresholds() -> None:
    # maintained 2025-12-16: overdue at the default 15 days, not at this lift's 30
    config = site_config(
        device(
            ELEVATOR,
            last_maintenance="2025-12-16",
            inspection_expires="2026-01-20",
            thresholds={"maintenance_interval_days": 30, "inspection_notice_days": 10},
        ),
        device(EXTINGUISHER, last_inspection="2025-12-01", thresholds={"inspection_days": 45}),
    )
    tl = Timeline(config)
    assert tl.tick(0) == []


def test_invalid_per_device_thresholds_are_rejected_with_the_path() -> None:
    with pytest.raises(ConfigError) as err:
        site_config(device(ELEVATOR, thresholds={"entrapment_s": -1}))
    assert "sites.0.buildings.0.devices.0" in str(err.value)
    with pytest.raises(ConfigError):
        site_config(device(WATER, thresholds={"no_such_threshold": 1}))


def test_a_site_file_on_disk_drives_the_rules(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        """
sites:
  - id: test-site
    timezone: Asia/Shanghai
    buildings:
      - id: b1
        devices:
          - id: wp-a
            kind: water_pressure
            params: {network: domestic, zone: north, max_mpa: 0.35}
            thresholds: {high_s: 60}
rules:
  water_pressure: {high_clear_s: 30}
  overrides:
    water.high_pressure: {priority: important}
""",
        encoding="utf-8",
    )
    config = load_site_config(tmp_path)
    tl = Timeline(config, ref=A)
    tl.water(0, 0.40, A)
    d = only(tl.tick(60), "water.high_pressure")
    assert d.priority is Priority.IMPORTANT
    tl.water(100, 0.30, A)
    assert cleared(tl.tick(130)) == ["water.high_pressure"]


# -- reconfigure -------------------------------------------------------------------------------
def test_reconfigure_keeps_a_firing_rule_firing_and_applies_the_new_thresholds() -> None:
    tl = Timeline(site_config(device(ELEVATOR)))
    tl.at(0, mains_power=False)
    assert fired(tl.tick(10)) == ["elevator.power_loss"]
    tl.reconfigure(site_config(device(ELEVATOR, thresholds={"power_restored_s": 5})))
    assert tl.tick(60) == []  # not fired a second time
    tl.at(100, mains_power=True)
    assert tl.tick(104) == []
    assert cleared(tl.tick(105)) == ["elevator.power_loss"]


def test_reconfigure_keeps_a_running_dwell() -> None:
    tl = Timeline(site_config(device(ELEVATOR)))
    tl.at(0, **TRAPPED)
    tl.tick(20)
    tl.reconfigure(site_config(device(ELEVATOR, location="Tower A, car 1")))
    out = tl.tick(30)
    assert fired(out) == ["elevator.entrapment"]
    assert out[0].location == "Tower A, car 1"


def test_reconfigure_applies_new_params_to_a_watched_device() -> None:
    tl = Timeline(site_config(device(A)), ref=A)
    tl.water_every(0, 600, 60, 0.40, ref=A)
    assert tl.decisions == []
    tl.reconfigure(site_config(device(A, max_mpa=0.35)))
    tl.water_every(660, 1260, 60, 0.40, ref=A)
    assert fired(tl.decisions) == ["water.high_pressure"]


def test_reconfigure_keeps_a_confirmed_zone_outage_confirmed() -> None:
    config = site_config(device(A, zone="north"), device(B, zone="north"))
    tl = Timeline(config, ref=A)
    tl.water(0, 0.0, A)
    tl.water(0, 0.0, B)  # confirms A, and A confirms B
    tl.water(10, 0.004, A)
    tl.tick(130)
    assert fired(tl.decisions) == ["water.outage", "water.outage"]
    before = len(tl.decisions)
    tl.reconfigure(config)  # the same file reloaded: nothing changes
    for i in range(4):  # both still dry, reporting every 10 minutes
        tl.water(200 + 600 * i, 0.004 * (i % 2), A)
        tl.tick(200 + 600 * i + 300)
        tl.water(200 + 600 * i + 400, 0.004 * (i % 2), B)
        tl.tick(200 + 600 * i + 599)
    assert tl.decisions[before:] == []


def test_reconfigure_adds_and_watches_new_devices() -> None:
    tl = Timeline(site_config(device(ELEVATOR)))
    tl.reconfigure(
        site_config(device(ELEVATOR), device(EXTINGUISHER, last_inspection="2025-11-01"))
    )
    assert fired(tl.tick(0)) == ["extinguisher.inspection_overdue"]


def test_reconfigure_to_an_empty_registry_keeps_unregistered_devices_working() -> None:
    tl = Timeline(site_config(device(ELEVATOR, min_floor=0, max_floor=5)))
    tl.reconfigure(StewardConfig())
    out = tl.at(0, floor=6, moving=True, door_zone=False)  # now only the default range
    assert fired(out) == []
