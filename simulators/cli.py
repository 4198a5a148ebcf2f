"""``steward simulate``: simulated devices (and a scenario) against any MQTT broker.

``simulate`` is what the typer command in steward/cli.py calls; it prints progress once a
second and stops cleanly on Ctrl-C (everything already handed to the broker is flushed).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import typer
import yaml

from simulators.fleet import (
    FleetPublisher,
    PublishStats,
    devices_from_config,
    synthetic_site_config,
)
from simulators.scenarios import (
    Scenario,
    ScenarioError,
    get_scenario,
    listing,
    load_config,
    scenario_fleet,
)
from simulators.schedule import Fleet
from steward.clock import AcceleratedClock
from steward.site import StewardConfig

DEVICES_PER_CONNECTION = 1000
MAX_CONNECTIONS = 8
LIST_WORDS = frozenset({"list", "help", "?"})
"""``--scenario list`` prints the library instead of running anything."""


def simulate(
    broker_url: str,
    scenario: str | None,
    devices: int | None,
    site_config: Path | None,
    time_factor: float,
    duration_s: float | None,
    qos: int,
) -> None:
    """Publish simulated devices to ``broker_url``.

    ``devices``: a synthetic fleet of that many devices (else the devices of ``site_config``,
    else of the bundled example site). ``scenario``: scripted incidents (None: normal traffic).
    ``time_factor``: simulated seconds per wall second. ``duration_s``: simulated seconds to
    run (None: until Ctrl-C). ``scenario`` ``list`` prints the library; an unknown name prints
    it on stderr and exits 2. Prints what Steward must raise for the scenario (and, for the
    calendar scenarios, writes the site file with the dates Steward must run with). Raises
    ``ConnectionError`` when the broker cannot be reached.
    """
    if scenario in LIST_WORDS:
        typer.echo("scenarios (steward simulate --scenario NAME):")
        for line in listing():
            typer.echo(f"  {line}")
        return
    try:
        get_scenario(scenario or "normal")  # fail on a bad name before connecting
    except ScenarioError:
        typer.echo(f"unknown scenario {scenario!r}; the library:", err=True)
        for line in listing():
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from None
    clock = AcceleratedClock(time_factor)
    fleet, config = _fleet(scenario or "normal", devices, site_config, clock.now())
    connections = min(MAX_CONNECTIONS, 1 + len(fleet.devices) // DEVICES_PER_CONNECTION)
    publisher = FleetPublisher(
        fleet, broker_url, clock=clock, qos=qos, connections=connections, progress=_Progress()
    )
    _announce(fleet, config, scenario, broker_url, time_factor, duration_s, connections)
    try:
        stats = publisher.run(duration_s)
    except KeyboardInterrupt:
        stats = publisher.stats
        typer.echo("interrupted: stopped cleanly")
    typer.echo(
        f"done: {stats.telemetry} telemetry and {stats.status} status messages in "
        f"{stats.wall_s:.1f} s ({stats.simulated_s:.0f} simulated s, {stats.rate:.0f} msg/s); "
        f"{stats.failed} failed, {stats.unconfirmed} unconfirmed"
    )


def _fleet(
    scenario: str, devices: int | None, site_config: Path | None, start: float
) -> tuple[Fleet, StewardConfig]:
    if devices is not None:
        if site_config is not None:
            typer.echo(f"{devices} synthetic devices requested: not using {site_config}")
        config = synthetic_site_config(devices)
    else:
        config = load_config(site_config)
    simulated = devices_from_config(config, start=start)
    return scenario_fleet(scenario, start=start, devices=simulated), config


def _announce(
    fleet: Fleet,
    config: StewardConfig,
    scenario: str | None,
    broker_url: str,
    time_factor: float,
    duration_s: float | None,
    connections: int,
) -> None:
    mix = Counter(d.kind.value for d in fleet.devices)
    kinds = ", ".join(f"{n} {kind}" for kind, n in mix.most_common())
    until = "until Ctrl-C" if duration_s is None else f"for {duration_s:g} simulated s"
    typer.echo(
        f"simulating {len(fleet.devices)} devices ({kinds}) on {broker_url} over "
        f"{connections} connection(s), time x{time_factor:g}, {until}"
    )
    if scenario:
        chosen = get_scenario(scenario)
        typer.echo(f"scenario {scenario}: {chosen.description}")
        for injection in fleet.injections:
            typer.echo(f"  at +{injection.at_s:g} s  {injection.device}: {injection.label}")
        _expectations(chosen, fleet, config, time_factor)


def _expectations(
    scenario: Scenario, fleet: Fleet, config: StewardConfig, time_factor: float
) -> None:
    """What Steward must raise, and the site-file dates it needs to raise it."""
    within = scenario.duration_s / 60
    wall = f", {within * 60 / time_factor / 60:.1f} min at x{time_factor:g}"
    tickets = scenario.expected(fleet.devices)
    if not tickets:
        typer.echo(f"expect: no ticket within {within:.0f} simulated min{wall}")
    else:
        typer.echo(f"expect within {within:.0f} simulated min{wall}, exactly:")
        for ticket in tickets:
            typer.echo(f"  {ticket.describe()}")
    if scenario.dates:
        site = scenario.configure(config, fleet.devices, fleet.devices[0].now)
        path = Path(tempfile.gettempdir()) / f"steward-scenario-{scenario.name}.yaml"
        data = site.model_dump(mode="json", exclude_defaults=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        dates = ", ".join(f"{d.name} {d.days:+d} days" for d in scenario.dates)
        typer.echo(
            f"this scenario is in the site file: run Steward with STEWARD_SITE_CONFIG={path} "
            f"(dates relative to today: {dates})"
        )


class _Progress:
    """Prints one line per second: simulated time, messages and the rate since last time."""

    def __init__(self) -> None:
        self._last_count = 0
        self._last_wall = 0.0

    def __call__(self, stats: PublishStats) -> None:
        elapsed = stats.wall_s - self._last_wall
        rate = (stats.telemetry - self._last_count) / elapsed if elapsed > 0 else 0.0
        self._last_count, self._last_wall = stats.telemetry, stats.wall_s
        typer.echo(
            f"[{stats.wall_s:6.1f} s] sim +{stats.simulated_s:7.0f} s  {stats.devices} devices  "
            f"{stats.telemetry} messages  {rate:7.0f} msg/s"
        )
