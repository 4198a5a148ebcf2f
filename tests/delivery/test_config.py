"""The integrations file: strict, every problem with its path; secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from delivery.config import MQTT_ENDPOINT, EventFilter, load_integrations, parse_integrations
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
