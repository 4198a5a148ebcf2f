"""The rule catalogue, generated from the code: ``python -m rules.catalogue > docs/rules.md``.

A test checks that docs/rules.md matches, so the catalogue cannot drift from the rules.
"""

from __future__ import annotations

from rules.engine import ALL_RULES
from steward.site import ElevatorThresholds, HealthThresholds

HEADER = """# Rule catalogue

Generated from the code by `python -m rules.catalogue > docs/rules.md` (a test keeps the two
in step). Thresholds are configurable in the site file under `rules:`; the defaults come from
the domain research (sources column; `[E]` there marks estimates). Rules in the same **group**
describe one incident and share one ticket (`dedup_key = site/kind/device/group`): a trapped
passenger who also presses the alarm is one emergency ticket with two occurrences.

A rule **fires** when its condition has held for its dwell (checked on every reading and on
every clock tick, so a dwell expires even if the device goes quiet) and **clears** when the
condition stops holding (after the clear hysteresis, where there is one). On clear, tickets of
rules marked *auto-resolve* resolve themselves; the others record `condition_cleared_at` and
wait for a person (an entrapment ends only when someone on site confirms it, EN 81-28).
"""


def _thresholds() -> str:
    rows = ["| setting | default |", "|---|---|"]
    for name, field in ElevatorThresholds.model_fields.items():
        rows.append(f"| `rules.elevator.{name}` | {field.default} |")
    for name, field in HealthThresholds.model_fields.items():
        rows.append(f"| `rules.health.{name}` | {field.default} |")
    return "\n".join(rows)


def render() -> str:
    lines = [
        HEADER,
        "## Rules",
        "",
        "| rule | group | priority | category | condition | on clear | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in ALL_RULES:
        on_clear = "auto-resolve" if rule.auto_resolve else "record, wait for a person"
        lines.append(
            f"| `{rule.id}` | {rule.group} | {rule.priority.value} | {rule.category.value} | "
            f"{rule.condition} | {on_clear} | {rule.source} |"
        )
    lines += ["", "## Thresholds (seconds unless named otherwise)", "", _thresholds(), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201
