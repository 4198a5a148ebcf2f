"""What a scenario is: a cast of devices picked from a fleet, a script of injections on them,
and the tickets Steward must raise for it (nothing else).

A scenario names its devices by *role* ("car", "sensor", "checkpoint") and picks them from
whatever fleet it is given (``Cast``), so the same script runs on the example site, a
customer's site file or a synthetic fleet. Its expectation is data (``ExpectedTicket``) in the
same role names; ``Scenario.expected(devices)`` gives it with the fleet's device ids, for the
tests and for ``steward simulate --scenario NAME`` alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from rules.decision import Category, Priority
from simulators.base import SimDevice
from simulators.elevator import ElevatorModel
from simulators.extinguisher import ExtinguisherMonitor
from simulators.patrol import PatrolCheckpoint
from simulators.schedule import Injection
from simulators.water import WaterPressureSensor
from steward.site import StewardConfig

D = TypeVar("D", bound=SimDevice)
PRIORITY_RANK = {Priority.GENERAL: 0, Priority.IMPORTANT: 1, Priority.EMERGENCY: 2}


class ScenarioError(LookupError):
    """Unknown scenario, or a fleet without the devices a scenario needs."""


# --- what must happen -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fire:
    """One FIRE decision of the rules engine: ``rule`` on ``device`` (a role of the cast, or a
    device id once resolved) with its priority and category."""

    rule: str
    priority: Priority
    category: Category
    device: str


@dataclass(frozen=True, slots=True)
class ExpectedTicket:
    """One ticket a scenario must raise: opened by ``opened_by``; ``also`` are the further
    FIRE decisions that land on the same ticket (the same incident: an alarm button during an
    entrapment, the second sensor of a zone, a repeated miss that raises the priority)."""

    opened_by: Fire
    also: tuple[Fire, ...] = ()

    @property
    def rule(self) -> str:
        return self.opened_by.rule

    @property
    def category(self) -> Category:
        return self.opened_by.category

    @property
    def priority(self) -> Priority:
        """The ticket's priority once every decision is in (a later, more severe rule of the
        incident raises it)."""
        return max((f.priority for f in self.fires), key=PRIORITY_RANK.__getitem__)

    @property
    def device(self) -> str:
        return self.opened_by.device

    @property
    def openers(self) -> frozenset[str]:
        """Devices that may open it: for a zone-wide ticket, whichever sensor fires first."""
        return frozenset(f.device for f in self.fires if f.rule == self.opened_by.rule)

    @property
    def fires(self) -> tuple[Fire, ...]:
        return (self.opened_by, *self.also)

    def resolve(self, ids: Mapping[str, str]) -> ExpectedTicket:
        """The same ticket with roles replaced by device ids."""
        return ExpectedTicket(
            replace(self.opened_by, device=ids[self.opened_by.device]),
            tuple(replace(f, device=ids[f.device]) for f in self.also),
        )

    def describe(self) -> str:
        also = "".join(f" + {f.rule} ({f.device})" for f in self.also)
        return f"{self.priority.value}/{self.category.value} {self.rule} on {self.device}{also}"


def fire(rule: str, priority: Priority, category: Category, device: str) -> Fire:
    return Fire(rule, priority, category, device)


def ticket(
    rule: str, priority: Priority, category: Category, device: str, *also: Fire
) -> ExpectedTicket:
    return ExpectedTicket(Fire(rule, priority, category, device), also)


# --- site-file changes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateParam:
    """A date in the site file relative to the day the scenario runs: ``params.<name>`` of
    the device in ``role`` is set to that day + ``days`` (negative: in the past)."""

    role: str
    name: str
    days: int

    def on(self, start: float, tz: str) -> date:
        today = datetime.fromtimestamp(start, ZoneInfo(tz)).date()
        return today + timedelta(days=self.days)


# --- the cast -------------------------------------------------------------------------------


CastFn = Callable[[Sequence[SimDevice]], dict[str, SimDevice]]
Play = Callable[["Cast"], list[Injection]]


class Cast(Mapping[str, SimDevice]):
    """The scenario's devices by role."""

    def __init__(self, roles: Mapping[str, SimDevice]) -> None:
        self._roles = dict(roles)

    def __getitem__(self, role: str) -> SimDevice:
        return self._roles[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self._roles)

    def __len__(self) -> int:
        return len(self._roles)

    def get_as(self, role: str, kind: type[D]) -> D:
        device = self._roles[role]
        if not isinstance(device, kind):
            raise ScenarioError(f"role {role!r} is a {type(device).__name__}, not {kind.__name__}")
        return device

    def car(self, role: str = "car") -> ElevatorModel:
        return self.get_as(role, ElevatorModel)

    def water(self, role: str = "sensor") -> WaterPressureSensor:
        return self.get_as(role, WaterPressureSensor)

    def fex(self, role: str = "fex") -> ExtinguisherMonitor:
        return self.get_as(role, ExtinguisherMonitor)

    def checkpoint(self, role: str = "checkpoint") -> PatrolCheckpoint:
        return self.get_as(role, PatrolCheckpoint)

    def ids(self) -> dict[str, str]:
        return {role: device.ref.device for role, device in self._roles.items()}


def at(at_s: float, device: SimDevice, label: str, action: Callable[[], None]) -> Injection:
    """An injection: ``action`` on ``device`` ``at_s`` simulated seconds after the start."""
    return Injection(at_s=at_s, device=device.ref.key, label=label, apply=action)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    play: Play
    """The injections, given the cast."""
    cast: CastFn = field(default=lambda devices: {})
    expect: tuple[ExpectedTicket, ...] = ()
    """Exactly the tickets it must raise (roles of the cast); empty: none at all."""
    duration_s: float = 600.0
    """Simulated time after which every expected ticket is there and the incident is over;
    running longer (a whole day) raises nothing more."""
    dates: tuple[DateParam, ...] = ()
    """Site-file dates it needs (maintenance, inspection); Steward must run with them."""

    def roles(self, devices: Sequence[SimDevice]) -> Cast:
        return Cast(self.cast(devices))

    def script(self, devices: Sequence[SimDevice]) -> list[Injection]:
        """The injections on ``devices`` (the fleet it runs on)."""
        return self.play(self.roles(devices))

    def expected(self, devices: Sequence[SimDevice]) -> list[ExpectedTicket]:
        """The expected tickets with the fleet's device ids."""
        if not self.expect:
            return []
        ids = self.roles(devices).ids()
        return [t.resolve(ids) for t in self.expect]

    @property
    def rules(self) -> frozenset[str]:
        """Every rule it must fire."""
        return frozenset(f.rule for t in self.expect for f in t.fires)

    def configure(
        self, config: StewardConfig, devices: Sequence[SimDevice], start: float
    ) -> StewardConfig:
        """``config`` with this scenario's dates set (a new config; ``config`` if none)."""
        if not self.dates:
            return config
        ids = self.roles(devices).ids()
        data = config.model_dump(mode="json", exclude_defaults=True)
        for edit in self.dates:
            target = ids[edit.role]
            for site in data.get("sites", []):
                for building in site.get("buildings", []):
                    for device in building.get("devices", []):
                        if device["id"] == target:
                            params = device.setdefault("params", {})
                            tz = site.get("timezone", "Asia/Shanghai")
                            params[edit.name] = edit.on(start, tz).isoformat()
        return StewardConfig.model_validate(data)


# --- picking devices --------------------------------------------------------------------------


def of_kind(devices: Sequence[SimDevice], kind: type[D]) -> list[D]:
    return [d for d in devices if isinstance(d, kind)]


def first_of(devices: Sequence[SimDevice], kind: type[D]) -> D:
    """The first device of a kind, in fleet (site file) order."""
    for device in devices:
        if isinstance(device, kind):
            return device
    raise ScenarioError(f"the fleet has no {kind.__name__}")


def same_building(devices: Sequence[SimDevice], anchor: SimDevice, kind: type[D]) -> list[D]:
    """``anchor`` and every other device of ``kind`` in its building."""
    found = [
        d
        for d in devices
        if isinstance(d, kind) and d.ref.site == anchor.ref.site and d.building == anchor.building
    ]
    return found if anchor.building is not None else [d for d in found if d is anchor]


def zone_of(sensor: WaterPressureSensor, devices: Sequence[SimDevice]) -> list[WaterPressureSensor]:
    """The sensors of ``sensor``'s supply zone (same site, building and network; the zone
    name when the sensor knows it)."""
    return [
        s
        for s in of_kind(devices, WaterPressureSensor)
        if s.ref.site == sensor.ref.site
        and s.network == sensor.network
        and (s.zone == sensor.zone if sensor.zone else s.building == sensor.building)
    ]


def domestic(devices: Sequence[SimDevice]) -> list[WaterPressureSensor]:
    return [s for s in of_kind(devices, WaterPressureSensor) if s.network == "domestic"]


def pick(found: Sequence[D], what: str) -> D:
    if not found:
        raise ScenarioError(f"the fleet has no {what}")
    return found[0]


def key_checkpoints(devices: Sequence[SimDevice]) -> list[PatrolCheckpoint]:
    """The key-area checkpoints of the first route, in walking order."""
    checkpoints = of_kind(devices, PatrolCheckpoint)
    if not checkpoints:
        raise ScenarioError("the fleet has no PatrolCheckpoint")
    route = checkpoints[0].route
    return [c for c in checkpoints if c.route is route and c.key_area]


def route_of(checkpoint: PatrolCheckpoint, devices: Sequence[SimDevice]) -> list[SimDevice]:
    """Every checkpoint on ``checkpoint``'s route (a guard walks a route as a whole)."""
    return [d for d in of_kind(devices, PatrolCheckpoint) if d.route is checkpoint.route]
