import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from gateway.payloads import SCHEMAS
from rules.catalogue import SECTIONS, SIGNALS, render, section_of, threshold_defaults
from rules.condition import Rule
from rules.engine import ALL_RULES
from rules.thresholds import RulesConfig
from steward.site import PARAMS


def test_docs_rule_catalogue_matches_the_code() -> None:
    docs = Path(__file__).parents[2] / "docs" / "rules.md"
    assert docs.read_text(encoding="utf-8") == render(), (
        "docs/rules.md is stale: run `python -m rules.catalogue > docs/rules.md`"
    )


def _section_model(section: str) -> BaseModel:
    model: BaseModel = getattr(RulesConfig(), section)
    return model


IDS = [r.id for r in ALL_RULES]


def test_every_rule_is_listed_under_exactly_one_heading() -> None:
    for rule in ALL_RULES:
        headings = [title for title, prefixes, *_ in SECTIONS if rule.id.startswith(prefixes)]
        assert headings == [section_of(rule)[0]], rule.id


@pytest.mark.parametrize("rule", ALL_RULES, ids=IDS)
def test_every_rule_declares_its_inputs_and_thresholds(rule: Rule[object]) -> None:
    assert rule.inputs, f"{rule.id}: declare inputs= where the rule is declared"
    assert rule.thresholds is not None, f"{rule.id}: declare thresholds= (() for none)"
    assert len(set(rule.inputs)) == len(rule.inputs)
    assert len(set(rule.thresholds)) == len(rule.thresholds)


@pytest.mark.parametrize("rule", ALL_RULES, ids=IDS)
def test_declared_thresholds_exist_in_the_threshold_models(rule: Rule[object]) -> None:
    _, _, kind, home = section_of(rule)
    for name in rule.thresholds or ():
        section, _, field = name.partition(".")
        assert section in RulesConfig.model_fields and section != "overrides", name
        assert field in type(_section_model(section)).model_fields, (
            f"{rule.id}: no threshold {field!r} in rules.{section}"
        )
        if kind is not None:  # a kind's rules use the kind's own settings
            assert section == home, f"{rule.id}: {name} is not in rules.{home}"
    defaults = threshold_defaults(rule)
    assert list(defaults) == list(rule.thresholds or ())


@pytest.mark.parametrize("rule", ALL_RULES, ids=IDS)
def test_declared_inputs_are_payload_fields_params_or_signals(rule: Rule[object]) -> None:
    _, _, kind, _ = section_of(rule)
    kinds = [kind] if kind is not None else list(SCHEMAS)  # health rules: any kind's
    payload = {f for k in kinds for f in SCHEMAS[k].model_fields}
    params = {f for k in kinds for f in PARAMS[k].model_fields}
    for name in rule.inputs or ():
        if name.startswith("params."):
            assert name.removeprefix("params.") in params, f"{rule.id}: no parameter {name}"
        else:
            assert name in payload or name in SIGNALS, (
                f"{rule.id}: {name!r} is neither a payload field nor a signal"
            )


@pytest.mark.parametrize("rule", ALL_RULES, ids=IDS)
def test_thresholds_named_in_the_texts_are_declared(rule: Rule[object]) -> None:
    """A setting the condition or clear text names is one the rule declares, so the
    metadata cannot fall behind the words."""
    _, _, _, home = section_of(rule)
    declared = set(rule.thresholds or ())
    for section in ("elevator", "water_pressure", "extinguisher", "patrol", "health"):
        fields = set(type(_section_model(section)).model_fields)
        if section != home and not any(d.startswith(f"{section}.") for d in declared):
            continue
        for word in re.findall(r"[a-z_]+", f"{rule.condition} {rule.clear}"):
            if word in fields:
                assert f"{section}.{word}" in declared, f"{rule.id}: {word} not declared"
