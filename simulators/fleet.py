"""Simulated devices from a site file, or a synthetic fleet; and the publisher that puts a
fleet on a real MQTT broker.

``FleetPublisher`` spreads thousands of devices over a few connections, announces each device
``online`` (retained), publishes telemetry when the devices' simulated schedule says so and
stops by itself after a simulated duration or a number of messages. Time comes from an
injected ``Clock``: with an ``AcceleratedClock`` simulated seconds pass faster than wall
seconds, every interval shrinks with them, and payload ``ts`` is the simulated time.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.topics import DeviceRef, Kind, status_topic
from simulators.base import SHANGHAI, SimDevice
from simulators.elevator import ElevatorModel
from simulators.extinguisher import ExtinguisherMonitor
from simulators.mqtt import BrokerAddress, Connection
from simulators.patrol import PatrolCheckpoint
from simulators.schedule import Fleet, Outbound
from simulators.water import WaterPressureSensor
from steward.clock import Clock
from steward.site import (
    DeviceConfig,
    ElevatorParams,
    ExtinguisherParams,
    PatrolParams,
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


# --- building devices -----------------------------------------------------------------------


def device_rng(seed: int, ref: DeviceRef) -> random.Random:
    """Each device's own random stream: independent of fleet order and size."""
    return random.Random(f"{seed}/{ref.site}/{ref.kind.value}/{ref.device}")


def build_device(
    ref: DeviceRef, params: Any, *, start: float, seed: int = 0, tz: tzinfo = SHANGHAI
) -> SimDevice:
    """One simulated device for ``ref`` with its site-file parameters (steward/site.py)."""
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
        )
    if isinstance(params, WaterParams):
        lo, hi = params.min_mpa, params.max_mpa
        setpoint = (lo + hi) / 2 if lo is not None and hi is not None else None
        return WaterPressureSensor(
            ref, rng=rng, start=start, tz=tz, network=params.network, setpoint_mpa=setpoint
        )
    if isinstance(params, ExtinguisherParams):
        return ExtinguisherMonitor(
            ref,
            rng=rng,
            start=start,
            tz=tz,
            green_min_mpa=params.green_min_mpa,
            green_max_mpa=params.green_max_mpa,
        )
    if isinstance(params, PatrolParams):
        return PatrolCheckpoint(ref, rng=rng, start=start, tz=tz, interval_min=params.interval_min)
    raise TypeError(f"no simulator for {ref.kind} parameters {type(params).__name__}")


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return SHANGHAI


def devices_from_config(config: StewardConfig, *, start: float, seed: int = 0) -> list[SimDevice]:
    """Every device of the site file, in file order."""
    devices: list[SimDevice] = []
    for site in config.sites:
        tz = _zone(site.timezone)
        for building in site.buildings:
            for device in building.devices:
                ref = DeviceRef(site.id, device.kind, device.id)
                params = device.typed_params()
                simulated = build_device(ref, params, start=start, seed=seed, tz=tz)
                simulated.building = building.id
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
    n: int, sites: int | Sequence[str] | None = None, *, start: float, seed: int = 0
) -> list[SimDevice]:
    """``n`` simulated devices in a realistic mix (see ``synthetic_site_config``)."""
    return devices_from_config(synthetic_site_config(n, sites, seed=seed), start=start, seed=seed)


# --- publishing -----------------------------------------------------------------------------


@dataclass(slots=True)
class PublishStats:
    devices: int
    telemetry: int = 0
    """Telemetry messages handed to the broker connection."""
    status: int = 0
    failed: int = 0
    unconfirmed: int = 0
    """Messages not yet written or acknowledged when the run ended (0 after a clean stop)."""
    wall_s: float = 0.0
    simulated_s: float = 0.0

    @property
    def rate(self) -> float:
        """Telemetry messages per wall second."""
        return self.telemetry / self.wall_s if self.wall_s > 0 else 0.0


StatusOnStop = Literal["offline", "clear", "keep"]
"""What each device's retained status says after a run: ``offline`` (a device's goodbye),
``clear`` (the retained message is deleted: tests on a shared broker) or ``keep`` (online)."""
ProgressCallback = Callable[[PublishStats], None]
_log = logging.getLogger(__name__)
_MAX_WAIT_S = 0.05
_FLUSH_TIMEOUT_S = 10.0


class FleetPublisher:
    """Publishes a fleet to a broker over ``connections`` MQTT connections (a device always
    uses the same one, so its ``online`` precedes its telemetry). Runs once: ``run()``
    blocks; ``start()``/``stop()`` run it in a background thread."""

    def __init__(
        self,
        fleet: Fleet | Sequence[SimDevice],
        broker_url: str,
        *,
        clock: Clock,
        qos: int = 0,
        connections: int = 4,
        client_id_prefix: str | None = None,
        status_on_stop: StatusOnStop = "offline",
        progress: ProgressCallback | None = None,
        progress_every_s: float = 1.0,
    ) -> None:
        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos}")
        self.fleet = fleet if isinstance(fleet, Fleet) else Fleet(fleet)
        self.address = BrokerAddress.parse(broker_url)
        self.clock = clock
        self.time_factor = float(getattr(clock, "factor", 1.0))
        self.qos = qos
        self.connections = max(1, min(connections, len(self.fleet.devices)))
        self.client_id_prefix = client_id_prefix or f"steward-sim-{uuid.uuid4().hex[:8]}"
        self.status_on_stop = status_on_stop
        self.progress = progress
        self.progress_every_s = progress_every_s
        self.stats = PublishStats(devices=len(self.fleet.devices))
        self.error: BaseException | None = None
        """What ended a background run early, if anything."""
        self._conns: list[Connection] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wall0 = 0.0

    # --- blocking ---------------------------------------------------------------------------

    def run(
        self,
        duration_s: float | None = None,
        *,
        max_messages: int | None = None,
        stop: threading.Event | None = None,
    ) -> PublishStats:
        """Publish until ``duration_s`` simulated seconds have passed, ``max_messages``
        telemetry messages are out, or ``stop`` (or ``self.stop()``) is set; then flush and
        disconnect. Raises ``ConnectionError`` if the broker cannot be reached."""
        self._wall0 = time.monotonic()
        self._open()
        try:
            self._send(self.fleet.start(self.clock.now()))
            self._loop(duration_s, max_messages, stop)
        finally:
            self._close()
        return self.stats

    def _loop(
        self, duration_s: float | None, max_messages: int | None, stop: threading.Event | None
    ) -> None:
        assert self.fleet.start_at is not None
        end = math.inf if duration_s is None else self.fleet.start_at + duration_s
        next_progress = self._wall0 + self.progress_every_s
        while not (self._stop.is_set() or (stop is not None and stop.is_set())):
            left = None if max_messages is None else max_messages - self.stats.telemetry
            if left is not None and left <= 0:
                break
            now = min(self.clock.now(), end)
            self._send(self.fleet.advance(now, limit=left))
            if self.progress is not None and time.monotonic() >= next_progress:
                next_progress += self.progress_every_s
                self.progress(self._update_stats())
            if now >= end:
                break
            upcoming = self.fleet.next_due()
            wait = _MAX_WAIT_S if upcoming is None else (upcoming - now) / self.time_factor
            if wait > 0:
                (stop or self._stop).wait(min(wait, _MAX_WAIT_S))

    def _open(self) -> None:
        try:
            for i in range(self.connections):
                conn = Connection(self.address, f"{self.client_id_prefix}-{i}")
                conn.open()
                self._conns.append(conn)
        except BaseException:
            self._disconnect()
            raise

    def _send(self, messages: list[Outbound]) -> None:
        conns, stats = self._conns, self.stats
        for message in messages:
            conn = conns[message.device % len(conns)]
            if not conn.publish(
                message.topic, message.payload, qos=self.qos, retain=message.retain
            ):
                stats.failed += 1
            elif message.is_status:
                stats.status += 1
            else:
                stats.telemetry += 1

    def _close(self) -> None:
        try:
            self._flush()
            self._send(self._final_status())
            self._flush()
        finally:
            self._update_stats()
            self._disconnect()

    def _final_status(self) -> list[Outbound]:
        if self.status_on_stop == "offline":
            return self.fleet.stop()
        if self.status_on_stop == "clear":
            return [
                Outbound(status_topic(d.ref), b"", retain=True, is_status=True, device=i)
                for i, d in enumerate(self.fleet.devices)
            ]
        return []

    def _flush(self) -> None:
        deadline = time.monotonic() + _FLUSH_TIMEOUT_S
        for conn in self._conns:
            conn.flush(max(deadline - time.monotonic(), 0.0))

    def _disconnect(self) -> None:
        for conn in self._conns:
            conn.close()
        self._conns.clear()

    def _update_stats(self) -> PublishStats:
        stats = self.stats
        stats.wall_s = time.monotonic() - self._wall0
        if self.fleet.start_at is not None and self.fleet.now is not None:
            stats.simulated_s = self.fleet.now - self.fleet.start_at
        stats.unconfirmed = sum(conn.pending for conn in self._conns)
        return stats

    # --- background -------------------------------------------------------------------------

    def start(self, duration_s: float | None = None, *, max_messages: int | None = None) -> None:
        """Run in a background thread (the demo runs the simulator inside the service)."""
        if self._thread is not None:
            raise RuntimeError("this publisher has already run; make a new one")
        self._thread = threading.Thread(
            target=self._run_in_background,
            args=(duration_s, max_messages),
            name=f"simulator-{self.client_id_prefix}",
            daemon=True,
        )
        self._thread.start()

    def _run_in_background(self, duration_s: float | None, max_messages: int | None) -> None:
        try:
            self.run(duration_s, max_messages=max_messages)
        except Exception as exc:
            self.error = exc
            _log.exception("simulator %s stopped", self.client_id_prefix)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a background run to end by itself; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def stop(self, timeout: float = 30.0) -> PublishStats:
        """Ask the run to end, wait for it to flush and disconnect, return the counts."""
        self._stop.set()
        self.join(timeout)
        return self.stats
