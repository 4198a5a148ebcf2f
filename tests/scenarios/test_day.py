"""24 simulated hours, through the production wiring of ``steward.runtime.Steward`` without
its MQTT gateway: the real ``Decoder``, ``RulesEngine`` and ``TicketService`` on SQLite
(decisions committed as the decision writer does, repeated failures included), on a
``FakeClock`` ticking every simulated second. The broker path would take a day of simulated
traffic at a few hundred messages a wall second; tests/scenarios/test_pipeline.py covers it
with the scenario pairs.

- A normal day of the example site (every kind, realistic traffic, noise, drift, patrols, no
  fault): no ticket at all.
- The same day with the scenario library's incidents, each scenario on a site of its own cut
  from the example site (so incidents do not explain each other away): exactly the tickets
  the library declares, no more, no fewer. Their elevators are a quiet building's (a call or
  so an hour, a heartbeat a minute when idle) so the day runs in seconds; each scenario also
  runs at full traffic in test_fake_clock.py and through the broker in test_pipeline.py.

Both figures are printed at the end of the session ("simulated days").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from simulators.fleet import Pace, devices_from_config
from simulators.scenarios import LIBRARY, combined_fleet, load_config, merge, stage
from simulators.schedule import Fleet
from tests.scenarios.harness import DAY, START, Bench, match_tickets

pytestmark = pytest.mark.slow
QUIET = Pace(elevator_calls_per_hour=1.0, elevator_idle_report_s=60.0)


def test_a_normal_day_raises_no_ticket(
    tmp_path: Path, report_figure: Callable[[str, str], None]
) -> None:
    config = load_config(None)
    bench = Bench(config, db=tmp_path / "steward.db")
    try:
        run = bench.run(Fleet(devices_from_config(config, start=START)), DAY)
        found = bench.tickets()
    finally:
        bench.close()
    kinds = sorted({d.ref.kind.value for d in devices_from_config(config, start=START)})
    report_figure(
        "normal_day_tickets",
        f"normal day (example site, {', '.join(kinds)}; {run.messages} messages): "
        f"{len(found)} tickets",
    )
    assert run.rejected == []
    assert found == []
    assert run.decisions == []


def test_the_same_day_with_the_library_raises_exactly_the_expected_tickets(
    tmp_path: Path, report_figure: Callable[[str, str], None]
) -> None:
    staged = [
        stage(s, site=s.name.replace("_", "-"), start=START, pace=QUIET)
        for s in LIBRARY
        if s.duration_s <= DAY
    ]
    bench = Bench(merge(s.config for s in staged), db=tmp_path / "steward.db")
    try:
        run = bench.run(combined_fleet(staged), DAY)
        found = bench.tickets()
    finally:
        bench.close()
    expected = [(s.site, t) for s in staged for t in s.expected]
    unexpected, missing = match_tickets(found, expected)
    report_figure(
        "incident_day_tickets",
        f"incident day ({len(staged)} scenarios, {run.messages} messages): {len(found)} "
        f"tickets, {len(expected)} expected, {len(unexpected)} unexpected, "
        f"{len(missing)} missing",
    )
    assert run.rejected == []
    assert unexpected == []
    assert missing == []
