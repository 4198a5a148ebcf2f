"""Building fleets (site file, synthetic) and the pure fleet timeline (no broker)."""

from __future__ import annotations

import functools
from collections import Counter, defaultdict

import orjson
import pytest

from gateway.payloads import SCHEMAS
from gateway.topics import Channel, Kind, parse_topic
from simulators.elevator import ElevatorModel
from simulators.fleet import Pace, devices_from_config, synthetic_fleet, synthetic_site_config
from simulators.schedule import Fleet, Injection, Outbound
from simulators.water import WaterPressureSensor
from steward.site import example_site_path, load_site_config
from tests.simulators.helpers import START


def example_fleet(seed: int = 0) -> Fleet:
    return Fleet(devices_from_config(load_site_config(example_site_path()), start=START, seed=seed))


def run(fleet: Fleet, seconds: float, step_s: float = 1.0) -> list[Outbound]:
    out: list[Outbound] = []
    for i in range(1, int(seconds / step_s) + 1):
        out += fleet.advance(START + i * step_s)
    return out


def test_devices_from_the_example_site() -> None:
    config = load_site_config(example_site_path())
    devices = devices_from_config(config, start=START)
    declared = [(d.id, d.kind) for s in config.sites for b in s.buildings for d in b.devices]
    assert [(d.ref.device, d.kind) for d in devices] == declared
    car = devices[0]
    assert isinstance(car, ElevatorModel)
    assert (car.min_floor, car.max_floor, car.rated_speed_mps) == (-2, 18, 1.75)
    assert car.building == "b1" and car.ref.site == "maple-court"
    fire = next(d for d in devices if d.ref.device == "b1-fire-main")
    assert isinstance(fire, WaterPressureSensor) and fire.network == "fire"


def test_synthetic_fleet_has_a_realistic_mix_over_sites() -> None:
    config = synthetic_site_config(1000)
    kinds = Counter(d.kind for s in config.sites for b in s.buildings for d in b.devices)
    assert kinds == {
        Kind.ELEVATOR: 600,
        Kind.EXTINGUISHER: 200,
        Kind.WATER_PRESSURE: 100,
        Kind.PATROL: 100,
    }
    assert [s.id for s in config.sites] == [f"sim-{i:03d}" for i in range(1, 6)]
    for site in config.sites:
        for building in site.buildings:
            cars = [d for d in building.devices if d.kind is Kind.ELEVATOR]
            assert 1 <= len(cars) <= 2
            assert len({(c.params["min_floor"], c.params["max_floor"]) for c in cars}) == 1


def test_synthetic_fleet_on_named_sites_is_repeatable() -> None:
    first = synthetic_fleet(50, sites=["north", "south"], start=START, seed=3)
    again = synthetic_fleet(50, sites=["north", "south"], start=START, seed=3)
    assert len(first) == 50
    assert {d.ref.site for d in first} == {"north", "south"}
    assert len({d.ref.key for d in first}) == 50
    assert [d.telemetry(START + 10) for d in first] == [d.telemetry(START + 10) for d in again]


def test_a_fleet_announces_itself_then_reports_on_schedule() -> None:
    fleet = example_fleet()
    hello = fleet.start(START)
    assert len(hello) == len(fleet.devices)
    assert all(m.retain and m.is_status and m.payload == b"online" for m in hello)
    assert {parse_topic(m.topic).channel for m in hello} == {Channel.STATUS}
    messages = run(fleet, 3600)
    assert [m.at for m in messages] == sorted(m.at for m in messages)
    by_device: dict[str, list[dict[str, object]]] = defaultdict(list)
    for m in messages:
        topic = parse_topic(m.topic)
        assert topic.channel is Channel.TELEMETRY and not m.retain
        SCHEMAS[topic.ref.kind].model_validate_json(m.payload)
        by_device[topic.ref.device].append(orjson.loads(m.payload))
    for device, payloads in by_device.items():
        assert [p["seq"] for p in payloads] == list(range(len(payloads))), device
    assert len(by_device["b1-water-roof"]) == 60  # every minute
    assert len(by_device["b1-fex-lobby"]) == 12  # every 5 minutes
    assert len(by_device["b1-elv-a"]) >= 720  # at least every 5 s
    assert len(by_device.get("b1-gate", [])) <= 1  # a scan every ~2 h
    goodbye = fleet.stop()
    assert len(goodbye) == len(fleet.devices) and all(m.payload == b"offline" for m in goodbye)


def test_advance_stops_at_the_message_limit_and_resumes() -> None:
    fleet = example_fleet()
    fleet.start(START)
    first = fleet.advance(START + 600, limit=25)
    assert len(first) == 25
    rest = fleet.advance(START + 600)
    everything = example_fleet()
    everything.start(START)
    assert [m.payload for m in first + rest] == [m.payload for m in everything.advance(START + 600)]


def test_injection_runs_at_its_offset_and_the_device_reports_at_once() -> None:
    devices = devices_from_config(load_site_config(example_site_path()), start=START)
    car = devices[0]
    assert isinstance(car, ElevatorModel)
    trap = functools.partial(car.trap_between_floors, alarm_after_s=20)
    fleet = Fleet(devices, [Injection(15.0, "b1-elv-a", "trapped", trap)])
    fleet.start(START)
    messages = run(fleet, 60, step_s=7.0)
    assert [(at - START, inj.label) for at, inj in fleet.applied] == [(15.0, "trapped")]
    car_reports = [orjson.loads(m.payload) for m in messages if "/b1-elv-a/" in m.topic]
    at_trap = next(p for p in car_reports if p["ts"] == round((START + 15) * 1000))
    assert (at_trap["moving"], at_trap["door_zone"], at_trap["occupied"]) == (False, False, True)
    assert car_reports[-1]["alarm"] is True


def test_a_dropped_device_goes_offline_and_silent_until_it_reconnects() -> None:
    devices = devices_from_config(load_site_config(example_site_path()), start=START)
    sensor = next(d for d in devices if d.ref.device == "b1-water-roof")
    fleet = Fleet(
        devices,
        [
            Injection(100.0, "b1-water-roof", "dropped", sensor.drop_connection),
            Injection(400.0, "maple-court/b1-water-roof", "back", sensor.reconnect),
        ],
    )
    fleet.start(START)
    mine = [m for m in run(fleet, 700) if "/b1-water-roof/" in m.topic]
    statuses = [(m.at - START, m.payload) for m in mine if m.is_status]
    assert statuses == [(100.0, b"offline"), (400.0, b"online")]
    silent = [m for m in mine if not m.is_status and 100 < m.at - START < 400]
    assert silent == []
    assert any(not m.is_status and m.at - START >= 400 for m in mine)


def test_an_injection_on_an_unknown_device_fails_up_front() -> None:
    devices = devices_from_config(load_site_config(example_site_path()), start=START)
    with pytest.raises(KeyError, match="no-such-device"):
        Fleet(devices, [Injection(1.0, "no-such-device", "x", lambda: None)])


def test_pace_sets_how_often_devices_report() -> None:
    chatty = Pace(elevator_idle_report_s=1.0, water_report_s=10.0, extinguisher_report_s=30.0)
    fleet = Fleet(synthetic_fleet(10, sites=["load"], start=START, pace=chatty))
    fleet.start(START)
    counts = Counter(parse_topic(m.topic).ref.kind for m in run(fleet, 300))
    assert counts[Kind.ELEVATOR] >= 6 * 300 * 0.95  # every elevator about once a second
    assert counts[Kind.WATER_PRESSURE] == pytest.approx(30, abs=1)
    assert counts[Kind.EXTINGUISHER] == pytest.approx(20, abs=2)
