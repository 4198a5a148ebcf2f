"""Built-in templates rendered against their published schemas; user templates fail early."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from delivery.builtin import BUILTIN_TEMPLATES, PAGERDUTY_EVENTS_URL
from delivery.config import WebhookConfig
from delivery.connector import Message
from delivery.sample import sample_event
from delivery.templates import (
    CompiledTemplate,
    RequestTemplate,
    TemplateRenderError,
    template_context,
)
from delivery.webhook import WebhookConnector
from tickets.lifecycle import Status
from tickets.outbox import EventType

SCHEMAS = Path(__file__).parent / "schemas"
ROUTING_KEY = "R0UT1NGK3Y0000000000000000000000"
LIFECYCLE = [
    (EventType.OPENED, Status.OPEN),
    (EventType.UPDATED, Status.OPEN),
    (EventType.ESCALATED, Status.OPEN),
    (EventType.ACKNOWLEDGED, Status.ACKNOWLEDGED),
    (EventType.UPDATED, Status.IN_PROGRESS),
    (EventType.RESOLVED, Status.RESOLVED),
    (EventType.CLOSED, Status.CLOSED),
    (EventType.CLOSED, Status.CANCELLED),
]


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return loaded


def render(template: str, event: dict[str, Any], **params: Any) -> tuple[str, dict[str, Any]]:
    compiled = CompiledTemplate(BUILTIN_TEMPLATES[template])
    context = template_context(event, params=params, endpoint="e", url="https://wo.test/issues")
    request = compiled.render(context)
    body: dict[str, Any] = json.loads(request.body)
    return request.url, body


@pytest.mark.parametrize(("event_type", "status"), LIFECYCLE)
def test_pagerduty_events_v2(event_type: EventType, status: Status) -> None:
    event = sample_event(event_type, status)
    url, body = render("pagerduty", event, routing_key=ROUTING_KEY)
    jsonschema.validate(
        body, schema("pagerduty-events-v2.json"), format_checker=jsonschema.FormatChecker()
    )
    assert url == PAGERDUTY_EVENTS_URL
    expected = {
        Status.OPEN: "trigger",
        Status.ACKNOWLEDGED: "acknowledge",
        Status.IN_PROGRESS: "acknowledge",
    }.get(status, "resolve")
    assert body["event_action"] == expected
    assert body["dedup_key"] == "/steward/sites/maple/ST-000042"  # one alert per ticket
    if expected == "trigger":
        assert body["payload"]["severity"] == "critical"
        assert body["payload"]["summary"].startswith("[EMERGENCY] Passenger trapped")
        assert body["payload"]["custom_details"]["ticket"] == "ST-000042"
    else:
        assert "payload" not in body


def test_pagerduty_options() -> None:
    event = sample_event()
    url, body = render(
        "pagerduty",
        event,
        routing_key=ROUTING_KEY,
        events_url="https://pd.internal/v2/enqueue",
        console_url="https://steward.example",
    )
    assert url == "https://pd.internal/v2/enqueue"
    assert body["client_url"] == "https://steward.example/tickets/ST-000042"
    with pytest.raises(TemplateRenderError, match="routing_key"):
        render("pagerduty", event)


@pytest.mark.parametrize(("event_type", "status"), LIFECYCLE)
def test_generic_issue(event_type: EventType, status: Status) -> None:
    url, body = render("generic-issue", sample_event(event_type, status))
    jsonschema.validate(
        body, schema("generic-issue.json"), format_checker=jsonschema.FormatChecker()
    )
    assert url == "https://wo.test/issues"
    assert body["external_id"] == "ST-000042"
    closing = status in {Status.RESOLVED, Status.CLOSED, Status.CANCELLED}
    action = "create" if event_type is EventType.OPENED else ("close" if closing else "update")
    assert (body["action"], body["state"]) == (action, "closed" if closing else "open")
    assert "priority:emergency" in body["labels"]
    assert "Passenger trapped" in body["title"]
    assert "| Ticket | ST-000042" in body["body"]


@pytest.mark.parametrize(
    "bad_time",
    [
        "2026-01-01T08:00:00",  # no offset
        "2026-01-01 08:00:00Z",  # no T
        "2026-02-30T08:00:00Z",  # no such day
        "2026-01-01T24:00:00Z",
        "yesterday",
    ],
)
@pytest.mark.parametrize(
    ("template", "params", "schema_file"),
    [
        ("pagerduty", {"routing_key": ROUTING_KEY}, "pagerduty-events-v2.json"),
        ("generic-issue", {}, "generic-issue.json"),
    ],
)
def test_the_schema_check_rejects_a_rendering_with_a_broken_timestamp(
    template: str, params: dict[str, Any], schema_file: str, bad_time: str
) -> None:
    """The format checks above are real: ``date-time`` needs ``rfc3339-validator`` installed,
    without which jsonschema passes any string."""
    checker = jsonschema.FormatChecker()
    assert "date-time" in checker.checkers
    event = {**sample_event(EventType.OPENED, Status.OPEN), "time": bad_time}
    _url, body = render(template, event, **params)
    with pytest.raises(jsonschema.ValidationError, match="is not a 'date-time'") as caught:
        jsonschema.validate(body, schema(schema_file), format_checker=checker)
    assert caught.value.validator == "format"
    assert caught.value.instance == bad_time


def test_a_users_template_renders_url_headers_and_body() -> None:
    template = RequestTemplate(
        method="PUT",
        url="{{ endpoint.url }}/{{ ticket.site }}/{{ ticket.id }}",
        headers={"Authorization": "Bearer {{ params.token }}"},
        body='{"summary": {{ ticket.title | tojson }}, "type": {{ event.type | tojson }}}',
    )
    config = WebhookConfig(
        name="wo",
        url="https://wo.test/api",
        template=template,
        params={"token": "t0k"},
        secrets=["raw-secret"],
    )
    message = Message(1, "evt-1", "maple", "steward.ticket.opened", sample_event())
    request = WebhookConnector(config).request_for(message, now=1_767_225_600)
    assert (request.method, request.url) == ("PUT", "https://wo.test/api/maple/ST-000042")
    assert request.headers["Authorization"] == "Bearer t0k"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "evt-1"
    assert request.headers["webhook-signature"].startswith("v1,")
    assert json.loads(request.body) == {
        "summary": "Passenger trapped in lift-1",
        "type": "steward.ticket.opened",
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{{ ticket.no_such_field }}", "does not render"),
        ("{{ ticket.title }}", "not JSON"),
        ("{% if %}", "does not compile"),
        ("{{ ticket.__class__.__mro__ }}", "does not render"),  # the sandbox says no
    ],
)
def test_broken_templates_fail_when_the_configuration_loads(body: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        WebhookConfig(name="wo", url="https://wo.test", template=RequestTemplate(body=body))
