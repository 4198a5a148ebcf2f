"""The rule catalogue, generated from the code: ``python -m rules.catalogue > docs/rules.md``.

A test checks that docs/rules.md matches, so the catalogue cannot drift from the rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway.topics import Kind
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

A rule **fires** when its condition has held for its dwell (checked on every reading and at
the moment the dwell ends, so it expires on time even if the device goes quiet) and
**clears** when the condition stops holding (after the clear hysteresis, where there is one).
On clear, tickets of rules marked *auto-resolve* resolve themselves; the others record
`condition_cleared_at` and wait for a person (an entrapment ends only when someone on site
confirms it, EN 81-28).

**Sensor faults** (marked *fault*) freeze the device's rules that need a healthy sensor
(marked *needs healthy sensor*): they neither fire nor clear while the fault lasts, so a broken
transmitter raises one maintenance ticket, not a water outage. A device with
`flapping_faults` faults within `flapping_window_s` gets one `device.flapping` ticket, and its
further faults open no tickets of their own while that lasts.
"""

SECTIONS: tuple[tuple[str, tuple[str, ...], Kind | None, str], ...] = (
    ("Elevators", ("elevator.",), Kind.ELEVATOR, "elevator"),
    ("Water pressure", ("water.",), Kind.WATER_PRESSURE, "water_pressure"),
    ("Fire extinguishers", ("extinguisher.",), Kind.EXTINGUISHER, "extinguisher"),
    ("Guard patrol", ("patrol.",), Kind.PATROL, "patrol"),
    ("Sensor health (every kind)", ("device.", "sensor."), None, "health"),
)
"""(heading, rule id prefixes, the rules' kind (None: every kind), their threshold section
``rules.<section>``)."""

SIGNALS: dict[str, str] = {
    "status": "the device's status topic (`online`/`offline`, its Last Will)",
    "message": "any accepted message of the device",
    "clock": "the injected clock: silence, deadlines, shifts (re-checked on periodic scans)",
    "zone": "the other sensors of the water zone (`params.zone`): healthy and reading ≈ 0",
    "building_power": "`elevator.power_loss` firing for an elevator in the same building",
    "tickets": "the elevator's fault tickets in the ticket store, checked when one opens",
    "missed_checkpoints": "`patrol.missed_checkpoint` firings at the site, per shift",
    "sensor_faults": "the device's sensor-fault rules (marked *fault*) firing",
    "rate_limited": "the device's messages the gateway dropped for flooding",
}
"""Inputs other than the reading's fields and the device's parameters, by the name rules
declare them with (``Rule.inputs``)."""

INPUTS_NOTE = """**Inputs** are what a rule reads: fields of the kind's telemetry payload
(contract §2) in `code`, the device's parameters from the site file as `params.<name>`, and,
in *italics*, signals other than the reading:

| signal | what it is |
|---|---|
{signals}

**Default thresholds** are the settings the rule uses (condition, dwell and clear) with their
defaults, named within the kind's section `rules.<section>` (a setting of another section is
written `<section>.<name>`); the tables at the end list every setting of each section. A rule
marked *needs healthy sensor* also depends on the sensor-fault rules' inputs: it is frozen while
one of them fires. *Recorded* in the clear column: the condition's end is recorded on the
ticket, and a person closes it.
"""


def section_of(rule: Rule[Any]) -> tuple[str, tuple[str, ...], Kind | None, str]:
    for section in SECTIONS:
        if rule.id.startswith(section[1]):
            return section
    raise ValueError(f"{rule.id}: no catalogue section")


def threshold_defaults(rule: Rule[Any], config: RulesConfig | None = None) -> dict[str, Any]:
    """The thresholds the rule declares (``section.name``) → their values in ``config``
    (default: the built-in defaults), as JSON."""
    dumped = (config or RulesConfig()).model_dump(mode="json")
    out = {}
    for name in rule.thresholds or ():
        section, field = name.split(".", 1)
        out[name] = dumped[section][field]
    return out


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):  # patrol shifts
        return ", ".join(
            f"{v['name']} {v['start']}–{v['end']}" if isinstance(v, dict) else str(v) for v in value
        )
    return str(value)


def _inputs(rule: Rule[Any]) -> str:
    return (
        ", ".join(f"*{name}*" if name in SIGNALS else f"`{name}`" for name in rule.inputs or ())
        or "—"
    )


def _defaults(rule: Rule[Any], home: str) -> str:
    items = []
    for name, value in threshold_defaults(rule).items():
        section, field = name.split(".", 1)
        shown = field if section == home else name
        items.append(f"`{shown}` = {_value(value)}")
    return ", ".join(items) or "—"


def _notes(rule: Rule[Any]) -> str:
    notes = ["auto-resolve" if rule.auto_resolve else "waits for a person"]
    if rule.sensor_fault:
        notes.append("fault")
    if rule.needs_healthy_sensor:
        notes.append("needs healthy sensor")
    if rule.scope is not None:
        notes.append("wider scope")
    return ", ".join(notes)


def _table(rules: list[Rule[Any]], kind: Kind | None, home: str) -> list[str]:
    kind_name = f"`{kind.value}`" if kind is not None else "every kind"
    lines = [
        "| rule | kind | group | priority | category | inputs | condition | clears when | "
        "default thresholds | notes | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rules:
        lines.append(
            f"| `{r.id}` | {kind_name} | {r.group} | {r.priority.value} | {r.category.value} | "
            f"{_inputs(r)} | {r.condition} | {r.clear or 'the condition ends'} | "
            f"{_defaults(r, home)} | {_notes(r)} | {r.source} |"
        )
    return lines


def _thresholds(name: str, model: BaseModel) -> list[str]:
    lines = [f"### `rules.{name}`", "", "| setting | default |", "|---|---|"]
    for field, value in model.model_dump(mode="json").items():
        lines.append(f"| `{field}` | {_value(value)} |")
    return [*lines, ""]


def render() -> str:
    signals = "\n".join(f"| *{name}* | {text} |" for name, text in SIGNALS.items())
    lines = [HEADER, INPUTS_NOTE.format(signals=signals)]
    for title, prefixes, kind, home in SECTIONS:
        rules = [r for r in ALL_RULES if r.id.startswith(prefixes)]
        lines += [f"## {title}", "", *_table(rules, kind, home), ""]
    lines += ["## Thresholds (seconds, MPa, mA, days, as named)", ""]
    config = RulesConfig()
    for *_, name in SECTIONS:
        lines += _thresholds(name, getattr(config, name))
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201
