"""``steward simulate``: simulated devices (and a scenario) against any MQTT broker.

``simulate`` is what the typer command in steward/cli.py calls; it prints progress once a
second and stops cleanly on Ctrl-C (everything already handed to the broker is flushed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import typer

from simulators.base import SimDevice
from simulators.fleet import FleetPublisher, PublishStats, devices_from_config, synthetic_fleet
from simulators.scenarios import get_scenario, load_config, scenario_fleet
from simulators.schedule import Fleet
from steward.clock import AcceleratedClock

DEVICES_PER_CONNECTION = 1000
MAX_CONNECTIONS = 8


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
    run (None: until Ctrl-C). Raises ``ConnectionError`` when the broker cannot be reached and
    ``ScenarioError`` for an unknown scenario.
    """
    get_scenario(scenario or "normal")  # fail on a bad name before connecting
    clock = AcceleratedClock(time_factor)
    fleet = _fleet(scenario or "normal", devices, site_config, clock.now())
    connections = min(MAX_CONNECTIONS, 1 + len(fleet.devices) // DEVICES_PER_CONNECTION)
    publisher = FleetPublisher(
        fleet, broker_url, clock=clock, qos=qos, connections=connections, progress=_Progress()
    )
    _announce(fleet, scenario, broker_url, time_factor, duration_s, connections)
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


def _fleet(scenario: str, devices: int | None, site_config: Path | None, start: float) -> Fleet:
    simulated: Sequence[SimDevice]
    if devices is not None:
        if site_config is not None:
            typer.echo(f"{devices} synthetic devices requested: not using {site_config}")
        simulated = synthetic_fleet(devices, start=start)
    else:
        simulated = devices_from_config(load_config(site_config), start=start)
    return scenario_fleet(scenario, start=start, devices=simulated)


def _announce(
    fleet: Fleet,
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
        typer.echo(f"scenario {scenario}: {get_scenario(scenario).description}")
    for injection in fleet.injections:
        typer.echo(f"  at +{injection.at_s:g} s  {injection.device}: {injection.label}")


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
