"""Built-in request templates: PagerDuty Events API v2 and a generic "create issue" shape.

Each is a ``RequestTemplate`` like a user's own (docs/integrations.md shows them in YAML), and
a test renders each against its published schema.
"""

from __future__ import annotations

from delivery.templates import RequestTemplate

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

# trigger / acknowledge / resolve follow the ticket's status, so a late or repeated event
# still leaves PagerDuty in the ticket's state; dedup_key ties them to one alert.
_PAGERDUTY_BODY = """\
{% set actions = {"open": "trigger", "acknowledged": "acknowledge", "in_progress": "acknowledge",
                  "resolved": "resolve", "closed": "resolve", "cancelled": "resolve"} %}
{% set action = actions[ticket.status] %}
{% set request = {"routing_key": params.routing_key, "event_action": action,
                  "dedup_key": (event.source ~ "/" ~ ticket.id)[-255:]} %}
{% if action == "trigger" %}
{% set severity = {"emergency": "critical", "important": "error",
                   "general": "warning"}[ticket.priority] %}
{% set place = ticket.location or ticket.device or ticket.site %}
{% do request.update({
    "payload": {
        "summary": ("[" ~ ticket.priority | upper ~ "] " ~ ticket.title ~ " @ " ~ place)[:1024],
        "source": ticket.site ~ "/" ~ (ticket.device or ticket.building or "site"),
        "severity": severity,
        "timestamp": event.time,
        "component": ticket.kind or ticket.category,
        "group": ticket.site,
        "class": ticket.rule or ticket.category,
        "custom_details": {
            "ticket": ticket.id, "status": ticket.status, "priority": ticket.priority,
            "location": ticket.location, "building": ticket.building,
            "description": ticket.description, "respond_by": ticket.respond_by,
            "onsite_by": ticket.onsite_by, "occurrences": ticket.occurrences,
            "escalation_level": ticket.escalation_level, "evidence": ticket.evidence,
        },
    },
    "client": "Steward",
}) %}
{% if params.console_url is defined %}
{% do request.update({"client_url": params.console_url ~ "/tickets/" ~ ticket.id}) %}
{% endif %}
{% endif %}
{{ request | tojson }}
"""

PAGERDUTY = RequestTemplate(
    method="POST",
    url="{{ params.events_url | default('" + PAGERDUTY_EVENTS_URL + "') }}",
    content_type="application/json",
    body=_PAGERDUTY_BODY,
)

_ISSUE_BODY = """\
{% set closing = ticket.status in ["resolved", "closed", "cancelled"] %}
{% set action = "create" if event.type == "steward.ticket.opened"
                else ("close" if closing else "update") %}
{% set text %}
{{ ticket.description }}

| | |
|---|---|
| Ticket | {{ ticket.id }} ({{ ticket.status }}) |
| Priority | {{ ticket.priority }} |
| Where | {{ ticket.site }} {{ ticket.building or "" }} {{ ticket.location or "" }} |
| Device | {{ ticket.device or "-" }} ({{ ticket.kind or "-" }}) |
| Rule | {{ ticket.rule or "-" }} |
| Respond by | {{ ticket.respond_by }} |
{% endset %}
{% set labels = ["steward", "priority:" ~ ticket.priority, "category:" ~ ticket.category,
                 "site:" ~ ticket.site] %}
{% if ticket.kind %}{% do labels.append("kind:" ~ ticket.kind) %}{% endif %}
{{ {
    "external_id": ticket.id,
    "action": action,
    "title": ("[" ~ ticket.priority | upper ~ "] " ~ ticket.title)[:256],
    "body": text,
    "labels": labels,
    "state": "closed" if closing else "open",
    "priority": ticket.priority,
    "status": ticket.status,
    "site": ticket.site,
    "location": ticket.location,
    "due_at": ticket.resolve_by or ticket.respond_by,
    "event": {"id": event.id, "type": event.type, "time": event.time},
} | tojson }}
"""

GENERIC_ISSUE = RequestTemplate(method="POST", content_type="application/json", body=_ISSUE_BODY)

BUILTIN_TEMPLATES: dict[str, RequestTemplate] = {
    "pagerduty": PAGERDUTY,
    "generic-issue": GENERIC_ISSUE,
}
