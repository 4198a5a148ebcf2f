"""The scenario pairs through the real pipeline: simulated devices → Mosquitto → gateway →
rules → tickets → API, on one accelerated clock shared by the simulator and Steward.

Scenarios run side by side, each on a site of its own (a unique id on the shared broker), in
four groups by how long they take: a group is one Steward and one simulator, its clock as fast
as the group's closest near miss allows (a 1.5 s loop glitch needs simulated seconds to stay
longer than the gateway's latency; a 2-hour patrol miss does not). The clock stands still
while Steward starts and stops at the end of the run, so nothing happens that the simulator
did not say. Multi-day scenarios (repeated failure) run on the ticket store on a fake clock in
test_fake_clock.py instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.decode import Decoder
from simulators.fleet import FleetPublisher, Pace
from simulators.scenarios import LIBRARY, Scenario, Staged, merge, stage
from simulators.schedule import Fleet, Outbound
from tests.e2e.harness import running, settings
from tests.mqtt_helpers import forget_session, unique, wait_for
from tests.scenarios.harness import START, Key, match_tickets

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
MINUTE, HOUR = 60.0, 3600.0
BUSY = Pace()
QUIET = Pace(elevator_calls_per_hour=6.0, elevator_idle_report_s=30.0)
GROUPS: dict[str, tuple[float, float, Pace]] = {
    # name: (longest scenario in it, simulated seconds per wall second, elevator pace)
    "fast": (6 * MINUTE, 30.0, BUSY),
    "short": (35 * MINUTE, 120.0, BUSY),
    "medium": (3.3 * HOUR, 800.0, QUIET),
    "long": (9 * HOUR, 2400.0, QUIET),
}


def group_of(scenario: Scenario) -> str | None:
    for name, (longest, _, _) in GROUPS.items():
        if scenario.duration_s <= longest:
            return name
    return None  # days long: not through the broker


class HeldClock:
    """Simulated time that stands at ``start`` until ``go()``, then runs ``factor`` times
    faster than wall time, and stops at ``until``."""

    def __init__(self, start: float, factor: float, until: float) -> None:
        self.factor = factor
        self._start, self._until = start, until
        self._went: float | None = None
        self._lock = threading.Lock()

    def go(self) -> None:
        with self._lock:
            self._went = time.monotonic()

    def now(self) -> float:
        went = self._went
        if went is None:
            return self._start
        return min(self._start + (time.monotonic() - went) * self.factor, self._until)


class StartingFleet(Fleet):
    """A fleet that lets the clock go the moment it starts, so simulated time begins exactly
    at ``START`` for Steward and the simulator alike."""

    def __init__(self, staged: list[Staged], clock: HeldClock) -> None:
        super().__init__(
            [d for s in staged for d in s.devices], [i for s in staged for i in s.injections]
        )
        self.clock = clock

    def start(self, now: float) -> list[Outbound]:
        out = super().start(now)
        self.clock.go()
        return out


def tickets_of(api: TestClient, sites: list[str]) -> list[Key]:
    out: list[Key] = []
    for site in sites:
        response = api.get("/api/v1/tickets", params={"site": site, "limit": 500})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        out += [(t["site"], t["device"], t["rule"], t["priority"], t["category"]) for t in items]
    return out


@pytest.fixture
def client_id(mosquitto_url: str) -> Iterator[str]:
    name = unique("gw-scn")
    yield name
    forget_session(mosquitto_url, name)


@pytest.mark.parametrize("group", list(GROUPS))
def test_scenario_pairs_through_the_real_pipeline(
    group: str, mosquitto_url: str, client_id: str, tmp_path: Path
) -> None:
    _, factor, pace = GROUPS[group]
    prefix = unique("s")
    staged: list[Staged] = [
        stage(s, site=f"{prefix}-{s.name.replace('_', '-')}", start=START, pace=pace)
        for s in LIBRARY
        if group_of(s) == group
    ]
    duration = max(s.scenario.duration_s for s in staged)
    clock = HeldClock(START, factor, START + duration)
    db = f"sqlite:///{tmp_path}/steward.db"
    config = merge(s.config for s in staged)
    with running(settings(mosquitto_url, db, client_id), clock, config) as (steward, api):
        simulator = FleetPublisher(
            StartingFleet(staged, clock),
            mosquitto_url,
            clock=clock,
            qos=1,
            connections=2,
            status_on_stop="clear",
        )
        stats = simulator.run(duration)
        wait_for(
            lambda: processed(steward.decoder) >= stats.telemetry,
            timeout=30,
            what="every reading processed",
        )
        assert steward.writer.flush(30)
        found = tickets_of(api, [s.site for s in staged])
    assert stats.failed == 0
    assert sum(steward.decoder.rejected.values()) == sum(
        n for reason, n in steward.decoder.rejected.items() if reason.value == "rate_limited"
    )
    expected = [(s.site, t) for s in staged for t in s.expected]
    unexpected, missing = match_tickets(found, expected)
    assert unexpected == []
    assert missing == []


KINDS = ("elevator", "water_pressure", "extinguisher", "patrol")


def processed(decoder: Decoder) -> int:
    """Telemetry messages the gateway has decoded: accepted, or rejected (a flood's excess)."""
    return sum(decoder.accepted[k] for k in KINDS) + sum(decoder.rejected.values())


def test_every_scenario_but_the_multi_day_ones_is_in_a_group() -> None:
    outside = [s.name for s in LIBRARY if group_of(s) is None]
    assert outside == ["repeated_failure", "two_failures"]
