"""The rule catalogue, generated from the code: ``python -m rules.catalogue > docs/rules.md``.

A test checks that docs/rules.md matches, so the catalogue cannot drift from the rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from rules.condition import Rule
from rules.engine import ALL_RULES
from rules.thresholds import RulesConfig

HEADER = """# Rule catalogue

Generated from the code by `python -m rules.catalogue > docs/rules.md` (a test keeps the two
in step). Thresholds are configurable in the site file, globally under `rules.<kind>` and per
device under the device's `thresholds:`; priority and category per rule under
`rules.overrides.<rule id>` (`enabled: false` switches a rule off). Defaults come from the
domain research (sources column; `[E]` marks an estimate, not a sourced value).

Rules in the same **group** describe one incident and share one ticket (`dedup_key =
site/kind/device/group`, or a wider scope such as a water zone or a guard): a trapped passenger
who also presses the alarm is one emergency ticket with two occurrences, and a later, more
severe rule of the group raises the ticket's priority.

A rule **fires** when its condition has held for its dwell (checked on every reading and on
clock ticks, so a dwell expires even if the device goes quiet) and **clears** when the
condition stops holding (after the clear hysteresis, where there is one). On clear, tickets of
rules marked *auto-resolve* resolve themselves; the others record `condition_cleared_at` and
wait for a person (an entrapment ends only when someone on site confirms it, EN 81-28).

**Sensor faults** (marked *fault*) freeze the device's rules that need a healthy sensor
(marked *needs healthy sensor*): they neither fire nor clear while the fault lasts, so a broken
transmitter raises one maintenance ticket, not a water outage. A device with
`flapping_faults` faults within `flapping_window_s` gets one `device.flapping` ticket, and its
further faults open no tickets of their own while that lasts.
"""

SECTIONS = (
    ("Elevators", "elevator."),
    ("Water pressure", "water."),
    ("Fire extinguishers", "extinguisher."),
    ("Guard patrol", "patrol."),
    ("Sensor health (every kind)", ("device.", "sensor.")),
)


def _notes(rule: Rule[Any]) -> str:
    notes = ["auto-resolve" if rule.auto_resolve else "waits for a person"]
    if rule.sensor_fault:
        notes.append("fault")
    if rule.needs_healthy_sensor:
        notes.append("needs healthy sensor")
    if rule.scope is not None:
        notes.append("wider scope")
    return ", ".join(notes)


def _table(rules: list[Rule[Any]]) -> list[str]:
    lines = [
        "| rule | group | priority | category | condition | clears when | notes | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rules:
        lines.append(
            f"| `{r.id}` | {r.group} | {r.priority.value} | {r.category.value} | "
            f"{r.condition} | {r.clear or 'the condition ends'} | {_notes(r)} | "
            f"{r.source} |"
        )
    return lines


def _thresholds(name: str, model: BaseModel) -> list[str]:
    lines = [f"### `rules.{name}`", "", "| setting | default |", "|---|---|"]
    for field, value in model.model_dump(mode="json").items():
        lines.append(f"| `{field}` | {value} |")
    return [*lines, ""]


def render() -> str:
    lines = [HEADER]
    for title, prefix in SECTIONS:
        rules = [r for r in ALL_RULES if r.id.startswith(prefix)]
        lines += [f"## {title}", "", *_table(rules), ""]
    lines += ["## Thresholds (seconds, MPa, mA, days, as named)", ""]
    config = RulesConfig()
    for name in ("elevator", "water_pressure", "extinguisher", "patrol", "health"):
        lines += _thresholds(name, getattr(config, name))
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201
