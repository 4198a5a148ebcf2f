"""Simulated devices from a site file, or a synthetic fleet in a realistic mix of kinds.

``FleetPublisher`` (simulators/publisher.py, re-exported here) puts them on a broker.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.topics import DeviceRef, Kind
from simulators.base import SHANGHAI, SimDevice
from simulators.elevator import ElevatorModel
from simulators.extinguisher import ExtinguisherMonitor
from simulators.patrol import PatrolCheckpoint, PatrolRoute
from simulators.publisher import FleetPublisher, ProgressCallback, PublishStats, StatusOnStop
from simulators.water import WaterPressureSensor
from steward.site import (
    DeviceConfig,
    DeviceRegistry,
    ElevatorParams,
    ExtinguisherParams,
    PatrolParams,
    RegisteredDevice,
    StewardConfig,
    WaterParams,
)

FLEET_MIX: tuple[tuple[Kind, float], ...] = (
    (Kind.ELEVATOR, 0.6),
    (Kind.EXTINGUISHER, 0.2),
    (Kind.WATER_PRESSURE, 0.1),
    (Kind.PATROL, 0.1),
)
"""Share of each kind in a synthetic fleet: elevators dominate (and report most often)."""
DEVICES_PER_SYNTHETIC_SITE = 200


@dataclass(frozen=True, slots=True)
class Pace:
    """How busy and how chatty simulated devices are (simulated seconds). The defaults are
    realistic; a load test may want every elevator at 1 msg/s (``elevator_idle_report_s=1``)."""

    elevator_calls_per_hour: float = 20.0
    elevator_moving_report_s: float = 1.0
    elevator_idle_report_s: float = 5.0
    water_report_s: float = 60.0
    extinguisher_report_s: float = 300.0


def device_rng(seed: int, ref: DeviceRef) -> random.Random:
    """Each device's own random stream: independent of fleet order and size."""
    return random.Random(f"{seed}/{ref.site}/{ref.kind.value}/{ref.device}")


def build_device(
    ref: DeviceRef,
    params: Any,
    *,
    start: float,
    seed: int = 0,
    tz: tzinfo = SHANGHAI,
    pace: Pace = Pace(),
    route: PatrolRoute | None = None,
) -> SimDevice:
    """One simulated device for ``ref`` with its site-file parameters (steward/site.py);
    a patrol checkpoint joins ``route`` (else a route of its own)."""
    rng = device_rng(seed, ref)
    if isinstance(params, ElevatorParams):
        return ElevatorModel(
            ref,
            rng=rng,
            start=start,
            tz=tz,
            min_floor=params.min_floor,
            max_floor=params.max_floor,
            rated_speed_mps=params.rated_speed_mps,
            calls_per_hour=pace.elevator_calls_per_hour,
            moving_report_s=pace.elevator_moving_report_s,
            idle_report_s=pace.elevator_idle_report_s,
        )
    if isinstance(params, WaterParams):
        lo, hi = params.min_mpa, params.max_mpa
        setpoint = (lo + hi) / 2 if lo is not None and hi is not None else None
        sensor = WaterPressureSensor(
            ref,
            rng=rng,
            start=start,
            tz=tz,
            network=params.network,
            setpoint_mpa=setpoint,
            report_s=pace.water_report_s,
        )
        sensor.zone = params.zone
        sensor.high_limit_mpa = params.max_mpa
        return sensor
    if isinstance(params, ExtinguisherParams):
        monitor = ExtinguisherMonitor(
            ref,
            rng=rng,
            start=start,
            tz=tz,
            green_min_mpa=params.green_min_mpa,
            green_max_mpa=params.green_max_mpa,
            report_s=pace.extinguisher_report_s,
        )
        monitor.basement = params.basement
        return monitor
    if isinstance(params, PatrolParams):
        checkpoint = PatrolCheckpoint(
            ref, rng=rng, start=start, tz=tz, interval_min=params.interval_min, route=route
        )
        checkpoint.key_area = params.key_area
        return checkpoint
    raise TypeError(f"no simulator for {ref.kind} parameters {type(params).__name__}")


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return SHANGHAI


def devices_from_config(
    config: StewardConfig, *, start: float, seed: int = 0, pace: Pace = Pace()
) -> list[SimDevice]:
    """Every device of the site file, in file order. Checkpoints with the same ``route`` (or
    none) at a site are one guard's route, walked in file order."""
    return devices_from_registry(DeviceRegistry(config), start=start, seed=seed, pace=pace)


def devices_from_registry(
    registered: Iterable[RegisteredDevice], *, start: float, seed: int = 0, pace: Pace = Pace()
) -> list[SimDevice]:
    """A simulator for each registered device, in order (a registry keeps file order)."""
    devices: list[SimDevice] = []
    routes: dict[tuple[str, str], PatrolRoute] = {}
    for device in registered:
        ref, params, tz = device.ref, device.params, _zone(device.timezone)
        route = None
        if isinstance(params, PatrolParams):
            name = params.route or "default"
            route = routes.get((ref.site, name))
            if route is None:
                rng = random.Random(f"{seed}/{ref.site}/route/{name}")
                route = routes[ref.site, name] = PatrolRoute(
                    name, rng=rng, start=start, interval_min=params.interval_min, tz=tz
                )
        simulated = build_device(ref, params, start=start, seed=seed, tz=tz, pace=pace, route=route)
        simulated.building = device.building
        devices.append(simulated)
    return devices


def _kinds_in_mix(n: int) -> list[Kind]:
    """``n`` kinds interleaved in ``FLEET_MIX`` proportions (largest deficit first)."""
    counts = dict.fromkeys((kind for kind, _ in FLEET_MIX), 0)
    kinds = []
    for i in range(1, n + 1):
        kind = max(FLEET_MIX, key=lambda km: km[1] * i - counts[km[0]])[0]
        counts[kind] += 1
        kinds.append(kind)
    return kinds


def _synthetic_device(
    kind: Kind, building: int, number: int, floors: tuple[int, int]
) -> DeviceConfig:
    prefix = f"b{building:03d}"
    if kind is Kind.ELEVATOR:
        low, top = floors
        speed = 1.0 if top <= 6 else 1.5 if top <= 11 else 1.75 if top <= 18 else 2.5
        params = {"min_floor": low, "max_floor": top, "rated_speed_mps": speed}
        return DeviceConfig(id=f"{prefix}-elv-{number}", kind=kind, params=params)
    if kind is Kind.WATER_PRESSURE:
        network = "fire" if number % 2 == 0 else "domestic"
        return DeviceConfig(id=f"{prefix}-water-{number}", kind=kind, params={"network": network})
    if kind is Kind.EXTINGUISHER:
        params = {"basement": number % 3 == 0}
        return DeviceConfig(id=f"{prefix}-fex-{number}", kind=kind, params=params)
    return DeviceConfig(id=f"{prefix}-cp-{number}", kind=kind, params={"key_area": True})


def _synthetic_buildings(kinds: list[Kind], rng: random.Random) -> list[dict[str, Any]]:
    """Two elevators per building; the other kinds spread over the same buildings."""
    n_buildings = max(1, math.ceil(kinds.count(Kind.ELEVATOR) / 2))
    floors = [(rng.choice((-1, -2)), rng.choice((6, 11, 18, 26, 33))) for _ in range(n_buildings)]
    ordinal: Counter[Kind] = Counter()
    numbers: Counter[tuple[int, Kind]] = Counter()
    devices: list[list[DeviceConfig]] = [[] for _ in range(n_buildings)]
    for kind in kinds:
        k = ordinal[kind]
        ordinal[kind] += 1
        building = k // 2 if kind is Kind.ELEVATOR else k % n_buildings
        numbers[building, kind] += 1
        device = _synthetic_device(kind, building + 1, numbers[building, kind], floors[building])
        devices[building].append(device)
    return [{"id": f"b{b + 1:03d}", "devices": devs} for b, devs in enumerate(devices) if devs]


def synthetic_site_config(
    n: int, sites: int | Sequence[str] | None = None, *, seed: int = 0
) -> StewardConfig:
    """A site file for ``n`` devices in ``FLEET_MIX`` proportions over ``sites`` (a number, or
    the site ids; default one site per ``DEVICES_PER_SYNTHETIC_SITE`` devices)."""
    if n < 0:
        raise ValueError("a fleet cannot have a negative number of devices")
    if sites is None:
        sites = max(1, math.ceil(n / DEVICES_PER_SYNTHETIC_SITE))
    site_ids = [f"sim-{i + 1:03d}" for i in range(sites)] if isinstance(sites, int) else list(sites)
    if not site_ids:
        raise ValueError("a fleet needs at least one site")
    rng = random.Random(seed)
    per_site: list[list[Kind]] = [[] for _ in site_ids]
    for i, kind in enumerate(_kinds_in_mix(n)):
        per_site[i % len(site_ids)].append(kind)
    return StewardConfig.model_validate(
        {
            "sites": [
                {
                    "id": site_id,
                    "name": f"Simulated compound {site_id}",
                    "buildings": _synthetic_buildings(kinds, rng),
                }
                for site_id, kinds in zip(site_ids, per_site, strict=True)
            ]
        }
    )


def synthetic_fleet(
    n: int,
    sites: int | Sequence[str] | None = None,
    *,
    start: float,
    seed: int = 0,
    pace: Pace = Pace(),
) -> list[SimDevice]:
    """``n`` simulated devices in a realistic mix (see ``synthetic_site_config``)."""
    config = synthetic_site_config(n, sites, seed=seed)
    return devices_from_config(config, start=start, seed=seed, pace=pace)


__all__ = [
    "FLEET_MIX",
    "FleetPublisher",
    "Pace",
    "ProgressCallback",
    "PublishStats",
    "StatusOnStop",
    "build_device",
    "device_rng",
    "devices_from_config",
    "synthetic_fleet",
    "synthetic_site_config",
]
