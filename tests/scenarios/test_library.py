"""The scenario library as data: every rule has a scenario that raises it and a near miss
that does not, and every expectation agrees with the rule table it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.engine import ALL_RULES, RULES_BY_ID
from simulators.scenarios import LIBRARY, PAIRS, SCENARIOS, get_scenario, markdown_listing, stage
from tests.scenarios.harness import START

CALENDAR = {"elevator.maintenance_overdue", "elevator.inspection_due",
            "extinguisher.inspection_overdue"}  # fmt: skip


def test_every_rule_has_a_scenario_that_raises_it_and_a_near_miss_that_does_not() -> None:
    assert set(PAIRS) == {r.id for r in ALL_RULES}
    for rule, (raises, near_miss) in PAIRS.items():
        assert rule in get_scenario(raises).rules, f"{raises} does not expect {rule}"
        assert rule not in get_scenario(near_miss).rules, f"{near_miss} expects {rule}"
        assert raises != near_miss


def test_every_scenario_of_the_library_is_in_a_pair() -> None:
    paired = {name for pair in PAIRS.values() for name in pair}
    assert {s.name for s in LIBRARY} == paired
    assert len(SCENARIOS) == len(LIBRARY) + 2  # normal and demo


@pytest.mark.parametrize("scenario", LIBRARY, ids=lambda s: s.name)
def test_expectations_match_the_rule_table(scenario: object) -> None:
    from simulators.script import Scenario  # noqa: PLC0415

    assert isinstance(scenario, Scenario)
    assert scenario.description and scenario.duration_s > 0
    for expected in scenario.expect:
        for fire in expected.fires:
            rule = RULES_BY_ID[fire.rule]
            assert (fire.priority, fire.category) == (rule.priority, rule.category), fire
    if scenario.dates:
        assert scenario.rules <= CALENDAR


@pytest.mark.parametrize("name", [s.name for s in LIBRARY])
def test_every_scenario_stages_on_a_site_of_its_own(name: str) -> None:
    staged = stage(name, site="own-site", start=START)
    devices = {d.ref.device for d in staged.devices}
    assert [s.id for s in staged.config.sites] == ["own-site"]
    assert {t.device for t in staged.expected} <= devices
    assert {i.device.split("/")[0] for i in staged.injections} == {"own-site"}
    assert all(i.at_s < staged.scenario.duration_s for i in staged.injections)


def test_the_operator_guide_lists_every_scenario() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    section = guide.split("\n## Scenarios\n", 1)[1].split("\n## ", 1)[0]
    listed = [line for line in section.splitlines() if line.startswith("- `")]
    assert listed == markdown_listing(), (
        "regenerate the list: simulators.scenarios.markdown_listing"
    )
