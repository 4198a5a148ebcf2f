"""Named scenarios (simulators/library.py) and how to run them: on a fleet (``scenario_fleet``),
on a broker (``scenario_publisher``, ``run_scenario``), or each on a site of its own
(``stage``), so that many run side by side in one Steward without touching each other.

A scenario picks its devices from whatever fleet it is given (the example site by default),
so the same script runs on the demo site, a customer's site file or a synthetic fleet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.topics import DeviceRef
from simulators.base import SimDevice
from simulators.fleet import (
    FleetPublisher,
    Pace,
    ProgressCallback,
    PublishStats,
    StatusOnStop,
    devices_from_config,
)
from simulators.library import (
    DEMO,
    DEMO_ENTRAPMENT_AT_S,
    DEMO_RESCUE_AT_S,
    DERIVED_RULES,
    INCIDENT_AT_S,
    LIBRARY,
    NORMAL,
    PAIRS,
    POWER_RESTORED_AFTER_S,
)
from simulators.patrol import PatrolCheckpoint
from simulators.schedule import Fleet, Injection
from simulators.script import (
    DateParam,
    ExpectedTicket,
    Fire,
    Scenario,
    ScenarioError,
    first_of,
    route_of,
    same_building,
)
from steward.clock import Clock
from steward.site import StewardConfig, example_site_path, load_site_config

DEFAULT_PACE = Pace()
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (NORMAL, *LIBRARY, DEMO)}


def scenario_names() -> list[str]:
    return list(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise ScenarioError(f"unknown scenario {name!r}; choose one of: {known}") from None


def role_of(name: str) -> str:
    """What a scenario is for, from ``PAIRS``: "raises X; near miss of Y" (or "")."""
    raises = [rule for rule, (r, _) in PAIRS.items() if r == name]
    misses = [rule for rule, (_, n) in PAIRS.items() if n == name]
    parts = [f"raises {', '.join(raises)}"] if raises else []
    parts += [f"near miss of {', '.join(misses)}"] if misses else []
    return "; ".join(parts)


def listing() -> list[str]:
    """One line per scenario: name, what it is for, what happens."""
    width = max(map(len, SCENARIOS))
    lines = []
    for name, scenario in SCENARIOS.items():
        role = role_of(name)
        lines.append(f"{name:<{width}}  {f'[{role}] ' if role else ''}{scenario.description}")
    return lines


def markdown_listing() -> list[str]:
    """The same as ``listing`` as a Markdown list (docs/operator-guide.md, "Scenarios")."""
    out = []
    for name, scenario in SCENARIOS.items():
        role = role_of(name)
        out.append(f"- `{name}`{f' ({role})' if role else ''}: {scenario.description}.")
    return out


def load_config(site_config: StewardConfig | Path | None) -> StewardConfig:
    """A site file (path or parsed); the bundled example site when None."""
    if isinstance(site_config, StewardConfig):
        return site_config
    return load_site_config(site_config or example_site_path())


def scenario_fleet(
    name: str,
    *,
    start: float,
    site_config: StewardConfig | Path | None = None,
    devices: Sequence[SimDevice] | None = None,
    seed: int = 0,
) -> Fleet:
    """The fleet (``devices``, else the site file's) with the scenario's injections."""
    scenario = get_scenario(name)
    if devices is None:
        devices = devices_from_config(load_config(site_config), start=start, seed=seed)
    return Fleet(devices, scenario.script(devices))


def scenario_publisher(
    name: str,
    broker_url: str,
    *,
    clock: Clock,
    site_config: StewardConfig | Path | None = None,
    devices: Sequence[SimDevice] | None = None,
    seed: int = 0,
    qos: int = 0,
    connections: int = 4,
    status_on_stop: StatusOnStop = "offline",
    progress: ProgressCallback | None = None,
) -> FleetPublisher:
    """A publisher for the scenario, not yet running: ``.run(duration_s)`` or ``.start()``."""
    fleet = scenario_fleet(
        name, start=clock.now(), site_config=site_config, devices=devices, seed=seed
    )
    return FleetPublisher(
        fleet,
        broker_url,
        clock=clock,
        qos=qos,
        connections=connections,
        status_on_stop=status_on_stop,
        progress=progress,
    )


def run_scenario(
    name: str,
    broker_url: str,
    site_config: StewardConfig | Path | None,
    clock: Clock,
    duration_s: float | None,
    *,
    seed: int = 0,
    qos: int = 0,
    stop: threading.Event | None = None,
    status_on_stop: StatusOnStop = "offline",
) -> PublishStats:
    """Publish the scenario on the broker for ``duration_s`` simulated seconds (None: until
    ``stop`` is set); blocks."""
    publisher = scenario_publisher(
        name,
        broker_url,
        clock=clock,
        site_config=site_config,
        seed=seed,
        qos=qos,
        status_on_stop=status_on_stop,
    )
    return publisher.run(duration_s, stop=stop)


# --- a scenario on a site of its own -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Staged:
    """A scenario placed on a site of its own: the devices it needs (its cast, and the rest of
    a guard route it walks), renamed to ``site``, with its site-file dates."""

    scenario: Scenario
    site: str
    config: StewardConfig
    """A site file with this one site (and the base file's rules)."""
    devices: list[SimDevice]
    injections: list[Injection]
    expected: list[ExpectedTicket]
    """With device ids."""

    def fleet(self) -> Fleet:
        return Fleet(self.devices, self.injections)


def needed(scenario: Scenario, devices: Sequence[SimDevice]) -> list[SimDevice]:
    """The devices a scenario needs, in fleet order: its cast, plus the whole route of any
    checkpoint in it (a guard walks the route as a whole: without the other checkpoints a
    missed one would also look like an idle guard)."""
    cast = list(scenario.roles(devices).values())
    keep = {id(d) for d in cast}
    for device in cast:
        if isinstance(device, PatrolCheckpoint):
            keep.update(id(d) for d in route_of(device, devices))
    return [d for d in devices if id(d) in keep]


def stage(
    scenario: Scenario | str,
    *,
    site: str,
    start: float,
    base: StewardConfig | Path | None = None,
    seed: int = 0,
    pace: Pace = DEFAULT_PACE,
) -> Staged:
    """``scenario`` on a site of its own, called ``site``: the first site of ``base`` (the
    example site by default) cut down to the devices the scenario needs. The devices draw
    their randomness as on the original site (the same ``seed`` gives the same traffic,
    noise and jitter whatever ``site`` is called), so a run is repeatable on a shared broker
    where every test needs a site id of its own."""
    if isinstance(scenario, str):
        scenario = get_scenario(scenario)
    config = load_config(base)
    if not config.sites:
        raise ScenarioError("the site file has no site")
    first = config.model_copy(update={"sites": config.sites[:1]})
    everything = devices_from_config(first, start=start, seed=seed, pace=pace)
    ids = {d.ref.device for d in needed(scenario, everything)}
    data: dict[str, Any] = first.model_dump(mode="json", exclude_defaults=True)
    own = data["sites"][0]
    own["buildings"] = [
        {**b, "devices": [d for d in b.get("devices", []) if d["id"] in ids]}
        for b in own.get("buildings", [])
    ]
    own["buildings"] = [b for b in own["buildings"] if b["devices"]]
    devices = devices_from_config(
        StewardConfig.model_validate(data), start=start, seed=seed, pace=pace
    )
    for device in devices:
        device.ref = DeviceRef(site, device.ref.kind, device.ref.device)
    own["id"] = site
    narrowed = scenario.configure(StewardConfig.model_validate(data), devices, start)
    return Staged(
        scenario,
        site,
        narrowed,
        devices,
        scenario.script(devices),
        scenario.expected(devices),
    )


def merge(configs: Iterable[StewardConfig]) -> StewardConfig:
    """One site file with the sites of all ``configs`` (the rules of the first)."""
    configs = list(configs)
    if not configs:
        return StewardConfig()
    sites = [site for config in configs for site in config.sites]
    return configs[0].model_copy(update={"sites": sites})


def combined_fleet(staged: Iterable[Staged]) -> Fleet:
    """One fleet of several staged scenarios (their sites side by side)."""
    devices: list[SimDevice] = []
    injections: list[Injection] = []
    for s in staged:
        devices += s.devices
        injections += s.injections
    return Fleet(devices, injections)


__all__ = [
    "DEMO_ENTRAPMENT_AT_S",
    "DEMO_RESCUE_AT_S",
    "DERIVED_RULES",
    "INCIDENT_AT_S",
    "LIBRARY",
    "PAIRS",
    "POWER_RESTORED_AFTER_S",
    "SCENARIOS",
    "DateParam",
    "ExpectedTicket",
    "Fire",
    "Scenario",
    "ScenarioError",
    "Staged",
    "combined_fleet",
    "first_of",
    "get_scenario",
    "listing",
    "load_config",
    "markdown_listing",
    "merge",
    "needed",
    "role_of",
    "run_scenario",
    "same_building",
    "scenario_fleet",
    "scenario_names",
    "scenario_publisher",
    "stage",
]
