"""The scenario pairs through the real pipeline: simulated devices → Mosquitto → gateway →
rules → tickets → API, on one accelerated clock shared by the simulator and Steward.

Scenarios run side by side, each on a site of its own (a unique id on the shared broker), in
four groups by how long they take: a group is one Steward (SQLite) and one simulator, its
clock as fast as the group allows. The clock stands still while Steward starts, stops at the
end of the run (nothing happens that the simulator did not say) and runs in lockstep with the
gateway (``LockstepClock``), so the acceleration never turns gateway latency into simulated
minutes. The multi-day pair (repeated failure: faults on three days, or two) has no pace at
all: its clock jumps from one message to the next (``JumpingClock``), so the days between
the faults pass in a few wall seconds.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
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
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
SLACK_S = 0.5
"""How far (simulated seconds) the clock may run past a message the gateway has not seen."""
STUCK_WALL_S = 5.0
"""A message still unseen after this long (wall) was dropped (a flood's excess): skip it."""
BUSY = Pace()
QUIET = Pace(elevator_calls_per_hour=6.0)
IDLE = Pace(elevator_calls_per_hour=0.0, elevator_idle_report_s=30.0)
GROUPS: dict[str, tuple[float, float, Pace]] = {
    # name: (longest scenario in it, simulated seconds per wall second at most, elevator
    # traffic). Hours-long groups get quiet or idle cars: their scenarios need no traffic,
    # and a busy car at x2400 would be thousands of messages a second.
    "fast": (6 * MINUTE, 30.0, BUSY),
    "short": (35 * MINUTE, 150.0, QUIET),
    "medium": (3.3 * HOUR, 900.0, IDLE),
    "long": (9 * HOUR, 2700.0, IDLE),
}


def group_of(scenario: Scenario) -> str | None:
    for name, (longest, _, _) in GROUPS.items():
        if scenario.duration_s <= longest:
            return name
    return None  # days long: not through the broker


class LockstepClock:
    """Simulated time for Steward and the simulator: it stands at ``start`` until the fleet
    starts, then runs up to ``factor`` times faster than wall time and stops at ``until``,
    but never more than ``SLACK_S`` past the oldest message the gateway has not processed
    (sent, or due next). Without that, a gateway thread stalled for half a second on a busy
    machine is 20 simulated minutes at x2400: a door closed 10 s after opening would look
    open for 80 s. The messages still take the whole real path; only the pace waits."""

    def __init__(self, start: float, factor: float, until: float) -> None:
        self.factor = factor
        self._start, self._until = start, until
        self._went: float | None = None
        self._lock = threading.Lock()
        self._unseen: deque[tuple[float, str, int, float]] = deque()
        """(simulated time, device key, seq, wall time sent) of telemetry sent, in order."""
        self._next_due = math.inf
        self._decoder: Decoder | None = None

    def watch(self, decoder: Decoder) -> None:
        self._decoder = decoder

    def go(self) -> None:
        self._went = time.monotonic()

    def sent(self, messages: list[Outbound], next_due: float | None) -> None:
        wall = time.monotonic()
        with self._lock:
            for m in messages:
                if not m.is_status:
                    _, site, _, device, _ = m.topic.split("/")
                    seq = int(orjson.loads(m.payload)["seq"])
                    self._unseen.append((m.at, f"{site}/{device}", seq, wall))
            self._next_due = math.inf if next_due is None else next_due

    def caught_up(self) -> bool:
        """Every telemetry message sent so far has been through the gateway."""
        self.now()
        with self._lock:
            return not self._unseen

    def now(self) -> float:
        went = self._went
        if went is None:
            return self._start
        wall = time.monotonic()
        free = self._free(wall - went)
        seen = self._decoder.last_seq if self._decoder is not None else {}
        with self._lock:
            unseen = self._unseen
            while unseen and (
                seen.get(unseen[0][1], -1) >= unseen[0][2] or wall - unseen[0][3] > STUCK_WALL_S
            ):
                unseen.popleft()
            oldest = min(unseen[0][0] if unseen else math.inf, self._next_due)
        return min(free, oldest + SLACK_S)

    def _free(self, wall_s: float) -> float:
        """Where the clock would be ``wall_s`` after it went, if the gateway kept up."""
        return min(self._start + wall_s * self.factor, self._until)


class JumpingClock(LockstepClock):
    """Lockstep without a pace: as soon as the gateway has been through every message sent,
    simulated time jumps to the next message due (plus ``SLACK_S``), however far off, and the
    gateway's ticks see it there. A quiet day is a few hundred heartbeats through the broker,
    not a day of sleeping. ``factor`` only spaces the simulator's polls while it waits for the
    gateway (a few hundred simulated seconds to the next message: about a millisecond)."""

    def __init__(self, start: float, until: float) -> None:
        super().__init__(start, 300_000.0, until)

    def _free(self, wall_s: float) -> float:
        return self._until


class StartingFleet(Fleet):
    """A fleet that lets the clock go the moment it starts (simulated time begins exactly at
    ``START`` for Steward and the simulator alike) and tells it what it sends."""

    def __init__(self, staged: list[Staged], clock: LockstepClock) -> None:
        super().__init__(
            [d for s in staged for d in s.devices], [i for s in staged for i in s.injections]
        )
        self.clock = clock

    def start(self, now: float) -> list[Outbound]:
        out = super().start(now)
        self.clock.sent(out, self.next_due())
        self.clock.go()
        return out

    def advance(self, now: float, limit: int | None = None) -> list[Outbound]:
        out = super().advance(now, limit)
        self.clock.sent(out, self.next_due())
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
    clock = LockstepClock(START, factor, START + duration)
    db = f"sqlite:///{tmp_path}/steward.db"
    config = merge(s.config for s in staged)
    with running(settings(mosquitto_url, db, client_id), clock, config) as (steward, api):
        clock.watch(steward.decoder)
        simulator = FleetPublisher(
            StartingFleet(staged, clock),
            mosquitto_url,
            clock=clock,
            qos=1,
            connections=2,
            status_on_stop="clear",
        )
        stats = simulator.run(duration)
        wait_for(clock.caught_up, timeout=30, what="every reading processed")
        assert steward.writer.flush(30)
        found = tickets_of(api, [s.site for s in staged])
        ours = [r for r in steward.dead_letters.latest(1000) if f"/{prefix}-" in r.topic]
    assert stats.failed == 0
    assert ours == []  # (the shared broker may carry other tests' junk: not ours)
    expected = [(s.site, t) for s in staged for t in s.expected]
    unexpected, missing = match_tickets(found, expected)
    assert (unexpected, missing) == ([], []), f"{len(found)} tickets, {len(expected)} expected"


MULTI_DAY = ["repeated_failure", "two_failures"]
HEARTBEAT = Pace(elevator_calls_per_hour=0.0, elevator_idle_report_s=300.0)
"""An idle car reporting every 5 min (half the elevator silence limit: never offline)."""


def test_every_scenario_but_the_multi_day_ones_is_in_a_group() -> None:
    outside = [s.name for s in LIBRARY if group_of(s) is None]
    assert outside == MULTI_DAY


@pytest.mark.parametrize("name", MULTI_DAY)
def test_multi_day_scenario_through_the_real_pipeline(
    name: str, mosquitto_url: str, client_id: str, tmp_path: Path
) -> None:
    """Controller code 07 on three days (or two), through Mosquitto → gateway → rules →
    tickets: three fault tickets in 30 days make one important repeated-failure ticket, which
    ``Steward._apply`` decides from the ticket store; two make none. The clock jumps between
    the car's heartbeats instead of sleeping through the days."""
    staged = stage(name, site=unique(f"s-{name.replace('_', '-')}"), start=START, pace=HEARTBEAT)
    duration = staged.scenario.duration_s
    clock = JumpingClock(START, START + duration)
    db = f"sqlite:///{tmp_path}/steward.db"
    with running(settings(mosquitto_url, db, client_id), clock, staged.config) as (steward, api):
        clock.watch(steward.decoder)
        simulator = FleetPublisher(
            StartingFleet([staged], clock),
            mosquitto_url,
            clock=clock,
            qos=1,
            connections=1,
            status_on_stop="clear",
        )
        stats = simulator.run(duration)
        wait_for(clock.caught_up, timeout=30, what="every reading processed")
        assert steward.writer.flush(30)
        found = tickets_of(api, [staged.site])
        items = api.get("/api/v1/tickets", params={"site": staged.site, "limit": 500}).json()
        ours = [r for r in steward.dead_letters.latest(1000) if f"/{staged.site}/" in r.topic]
    assert stats.failed == 0 and stats.simulated_s >= duration
    assert ours == []
    unexpected, missing = match_tickets(found, [(staged.site, t) for t in staged.expected])
    assert (unexpected, missing) == ([], []), f"{len(found)} tickets"
    faults = [t for t in found if t[2] == "elevator.controller_fault"]
    repeated = [t for t in found if t[2] == "elevator.repeated_failure"]
    assert len(faults) == (3 if name == "repeated_failure" else 2)
    assert len({t[1] for t in faults}) == 1  # one car
    opened = sorted(
        datetime.fromisoformat(t["opened_at"]).timestamp()
        for t in items["items"]
        if t["rule"] == "elevator.controller_fault"
    )
    gaps = [b - a for a, b in itertools.pairwise(opened)]
    assert all(abs(gap - DAY) < HOUR for gap in gaps), gaps  # the days did pass in between
    car = faults[0][1]
    assert repeated == (
        [(staged.site, car, "elevator.repeated_failure", "important", "facility")]
        if name == "repeated_failure"
        else []
    )
