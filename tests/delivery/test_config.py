"""The integrations file: strict, every problem with its path; secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from delivery.config import (
    MQTT_ENDPOINT,
    EventFilter,
    escalation_of,
    load_integrations,
    parse_integrations,
)
from delivery.setup import integrations, routes
from steward.settings import Settings
from steward.site import ConfigError
from tests.delivery.helpers import SECRET

GOOD = """
endpoints:
  - name: work-orders
    url: https://wo.example.com/hooks?token=${WO_TOKEN}
    secrets: ["${WO_SECRET}", "raw-old-secret"]
    timeout_s: 5
    filter:
      sites: [maple]
      priorities: [emergency, important]
      events: [opened, steward.ticket.resolved]
  - name: pager
    url: https://events.pagerduty.com/v2/enqueue
    template: pagerduty
    params: {routing_key: "${PD_KEY}"}
mqtt:
  enabled: false
"""
ENV = {"WO_TOKEN": "t", "WO_SECRET": SECRET, "PD_KEY": "k" * 32}


def test_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "integrations.yaml"
    path.write_text(GOOD)
    config = load_integrations(path, env=ENV)
    orders, pager = config.endpoints
    assert orders.secrets == [SECRET, "raw-old-secret"]
    assert orders.target == "https://wo.example.com/hooks"  # no query: tokens stay out of logs
    assert orders.filter.events == ["steward.ticket.opened", "steward.ticket.resolved"]
    assert orders.filter.matches(
        site="maple", priority="important", event_type="steward.ticket.opened"
    )
    assert not orders.filter.matches(
        site="oak", priority="important", event_type="steward.ticket.opened"
    )
    assert not orders.filter.matches(
        site="maple", priority="general", event_type="steward.ticket.opened"
    )
    assert not orders.filter.matches(
        site="maple", priority="important", event_type="steward.ticket.updated"
    )
    assert pager.params == {"routing_key": "k" * 32}
    assert config.mqtt.enabled is False
    assert "raw-old-secret" not in repr(config)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("endpoints: [{name: a, url: ftp://x}]", "endpoints.0.url: Value error, must be an http"),
        ("endpoints: [{name: A!, url: http://x}]", "endpoints.0.name"),
        ("endpoints: [{name: a, url: http://x, colour: red}]", "endpoints.0.colour: Extra"),
        ("endpoints: [{name: a, url: http://x, template: nope}]", "unknown built-in template"),
        (
            "endpoints: [{name: a, url: http://x, filter: {priorities: [urgent]}}]",
            "endpoints.0.filter.priorities.0",
        ),
        (
            "endpoints: [{name: a, url: http://x, filter: {events: [exploded]}}]",
            "endpoints.0.filter.events.0",
        ),
        (
            "endpoints: [{name: a, url: http://x, filter: {escalation_levels: [0]}}]",
            "endpoints.0.filter.escalation_levels.0: Input should be greater than or equal to 1",
        ),
        (
            "endpoints: [{name: a, url: http://x, filter: {escalation_levels: [true]}}]",
            "endpoints.0.filter.escalation_levels.0: Input should be a valid integer",
        ),
        (
            "endpoints: [{name: a, url: http://x, filter: {escalation_levels: ['1']}}]",
            "endpoints.0.filter.escalation_levels.0: Input should be a valid integer",
        ),
        (
            "endpoints: [{name: a, url: http://x, filter: {escalation_levels: 1}}]",
            "endpoints.0.filter.escalation_levels: Input should be a valid list",
        ),
        (
            "endpoints: [{name: a, url: http://x, filter: {roles: [boss]}}]",
            "endpoints.0.filter.roles.0: Input should be 'duty_manager'",
        ),
        (
            "endpoints: [{name: a, url: http://x, filter: {escalation_level: [1]}}]",
            "endpoints.0.filter.escalation_level: Extra",
        ),
        (
            "endpoints: [{name: a, url: http://x,"
            " filter: {events: [opened], roles: [management]}}]",
            "endpoints.0.filter: Value error, roles selects escalated events, but events leaves",
        ),
        ("mqtt: {filter: {escalation_levels: [-1]}}", "mqtt.filter.escalation_levels.0"),
        (
            "mqtt: {filter: {events: [resolved], escalation_levels: [2]}}",
            "mqtt.filter: Value error, escalation_levels selects escalated events",
        ),
        ("endpoints: [{name: a, url: http://x}, {name: a, url: http://y}]", "declared twice"),
        ("endpoints: [{name: mqtt, url: http://x}]", "reserved"),
        ("endpoints: [{name: a, url: http://x, secrets: ['whsec_!!']}]", "base64"),
        ("endpoints: [{name: a, url: 'http://x/${MISSING}'}]", "MISSING is not set"),
        ("endpoints: [{name: a, url: http://x, template: pagerduty}]", "routing_key"),
        ("[1, 2]", "top level must be a mapping"),
    ],
)
def test_every_problem_is_named_with_its_path(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.yaml") as caught:
        load_integrations(path, env={})
    assert problem in str(caught.value)


ESCALATED = "steward.ticket.escalated"


def test_escalation_filters_select_escalated_events_by_level_and_role(tmp_path: Path) -> None:
    path = tmp_path / "integrations.yaml"
    path.write_text(
        """
endpoints:
  - {name: duty, url: "http://x", filter: {events: [escalated], escalation_levels: [1]}}
  - {name: lifts, url: "http://x", filter: {roles: [maintenance_company]}}
  - {name: both, url: "http://x", filter: {escalation_levels: [2], roles: [management]}}
mqtt: {filter: {roles: [duty_manager, management]}}
"""
    )
    config = load_integrations(path, env={})
    duty, lifts, both = (e.filter for e in config.endpoints)
    escalations = [
        (1, ["duty_manager"]),
        (2, ["maintenance_company", "management"]),
        (2, ["management"]),  # level 2 of a ticket that is not about a lift
    ]

    def wanted(f: EventFilter, event_type: str = ESCALATED) -> list[bool]:
        return [
            f.matches(
                site="maple",
                priority="emergency",
                event_type=event_type,
                escalation_level=level,
                roles=roles,
            )
            for level, roles in escalations
        ]

    assert wanted(duty) == [True, False, False]
    assert wanted(lifts) == [False, True, False]
    assert wanted(both) == [False, True, True]
    assert wanted(config.mqtt.filter) == [True, True, True]
    # An escalated event whose escalation is unknown matches no level or role filter.
    for f in (duty, lifts, both):
        assert not f.matches(site="maple", priority="emergency", event_type=ESCALATED)
    # Other events pass the escalation filters untouched (even carrying an old escalation).
    for event_type in ("steward.ticket.opened", "steward.ticket.updated"):
        assert wanted(lifts, event_type) == wanted(both, event_type) == [True, True, True]
        assert wanted(duty, event_type) == [False, False, False]  # events: [escalated]
    # No escalation fields (every existing filter): every escalation matches; an empty list
    # matches no escalation, like an empty ``events`` matches no event.
    assert wanted(EventFilter()) == [True, True, True]
    assert wanted(EventFilter(roles=[])) == [False, False, False]
    assert wanted(EventFilter(roles=[]), "steward.ticket.opened") == [True, True, True]


def test_escalation_of_reads_the_events_ticket() -> None:
    assert escalation_of(
        {"escalation_level": 2, "escalation": {"level": 2, "roles": ["management"]}}
    ) == (2, ("management",))
    assert escalation_of({"escalation_level": 0, "escalation": None}) == (0, ())
    assert escalation_of({}) == (None, ())


def test_dollar_dollar_is_a_literal() -> None:
    config = parse_integrations(
        {"endpoints": [{"name": "a", "url": "http://x/$${NOT_A_VAR}"}]}, Path("f"), env={}
    )
    assert config.endpoints[0].url == "http://x/${NOT_A_VAR}"


def test_the_environment_alone_configures_one_webhook_and_mqtt_events(tmp_path: Path) -> None:
    settings = Settings(
        webhook_url="https://hooks.example.com/steward",
        webhook_secret=SecretStr(f"{SECRET} second-secret"),
    )
    config = integrations(settings)
    [webhook] = config.endpoints
    assert (webhook.name, webhook.secrets) == ("webhook", [SECRET, "second-secret"])
    assert webhook.filter == EventFilter()
    found = routes(config, mqtt_url="mqtt://127.0.0.1:1")
    assert [(r.name, r.connector.kind) for r in found] == [
        ("webhook", "webhook"),
        (MQTT_ENDPOINT, "mqtt"),
    ]
    for route in found:
        route.connector.close()
    path = tmp_path / "i.yaml"
    path.write_text("endpoints: [{name: webhook, url: 'http://x'}]")
    with pytest.raises(ConfigError, match="also declares"):
        integrations(settings.model_copy(update={"integrations_config": path}))
