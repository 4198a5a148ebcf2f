"""Every scenario of the library through the real decoder and rules engine on a fake clock
(no broker): exactly the FIRE decisions it declares (rule, priority, category, device), and
none of the rule its near miss stands for. Fast: each scenario on a site of its own with only
the devices it needs, a tick every simulated second."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.fleet import Pace
from simulators.scenarios import DERIVED_RULES, LIBRARY, PAIRS, get_scenario, stage
from tests.scenarios.harness import START, Bench, expected_fires, match_tickets

QUIET = Pace(elevator_calls_per_hour=2.0, elevator_idle_report_s=60.0)
"""For the multi-day scenarios: a quiet building, so days pass in a few seconds."""


@pytest.mark.parametrize(
    "name", [s.name for s in LIBRARY if s.duration_s <= 86400], ids=lambda n: n
)
def test_scenario_fires_exactly_what_it_declares(name: str) -> None:
    staged = stage(name, site="fake-site", start=START)
    bench = Bench(staged.config)
    result = bench.run(staged.fleet(), staged.scenario.duration_s)
    assert result.rejected == []
    expected = expected_fires(staged.site, staged.expected, skip=DERIVED_RULES)
    assert result.fires() == expected
    near_miss_of = {rule for rule, (_, near) in PAIRS.items() if near == name}
    assert not near_miss_of & {key[2] for key in result.fires()}


@pytest.mark.parametrize("seed", [1])
def test_the_library_holds_for_other_random_draws(seed: int) -> None:
    """The same expectations with other traffic, noise and jitter (other seeds)."""
    wrong = []
    for scenario in LIBRARY:
        if scenario.duration_s > 86400:
            continue
        staged = stage(scenario, site=f"seed-{seed}", start=START, seed=seed)
        result = Bench(staged.config).run(staged.fleet(), scenario.duration_s)
        expected = expected_fires(staged.site, staged.expected, skip=DERIVED_RULES)
        if result.fires() != expected:
            wrong.append(f"{scenario.name}: {sorted(result.fires())} != {sorted(expected)}")
    assert wrong == []


@pytest.mark.parametrize("name", ["repeated_failure", "two_failures"])
def test_repeated_failure_is_decided_from_the_ticket_history(name: str, tmp_path: Path) -> None:
    """Three controller faults on three days: three fault tickets and, from the ticket
    history (``Steward._apply``), a repeated-failure ticket; two: none. Through the ticket
    store on SQLite, in a quiet building."""
    scenario = get_scenario(name)
    staged = stage(scenario, site="history", start=START, pace=QUIET)
    bench = Bench(staged.config, db=tmp_path / "steward.db")
    try:
        bench.run(staged.fleet(), scenario.duration_s)
        found = bench.tickets()
    finally:
        bench.close()
    unexpected, missing = match_tickets(found, [(staged.site, t) for t in staged.expected])
    assert (unexpected, missing) == ([], [])
