"""Escalations through webhooks, on SQLite and PostgreSQL: a ticket misses its respond
deadline on a clock tick, and each level reaches only the endpoints whose filter selects it
(``escalation_levels``, ``roles``), with the site's contacts in the body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from delivery.config import load_integrations
from delivery.log import DeliveryLog
from delivery.setup import routes
from steward.clock import FakeClock
from steward.site import parse_config
from tests.delivery.helpers import dispatcher, drain, open_ticket, outbox
from tests.delivery.receiver import Receiver
from tickets.config import site_policies
from tickets.outbox import EventType
from tickets.service import TicketService
from tickets.sweeper import Sweeper

DUTY_MANAGER = {"role": "duty_manager", "name": "Wang Fang", "phone": "+86 139 0000 0001"}
LIFT_COMPANY = {"role": "maintenance_company", "name": "Otis Shanghai", "phone": "400 000 0000"}
MANAGEMENT = {"role": "management", "name": "Chen Jie", "email": "chen@example.com"}
ROSTER = {
    c["role"]: [{k: v for k, v in c.items() if k != "role"}]
    for c in (DUTY_MANAGER, LIFT_COMPANY, MANAGEMENT)
}
INTEGRATIONS = """
endpoints:
  - name: duty-manager
    url: "${DUTY_URL}"
    filter: {events: [escalated], escalation_levels: [1]}
  - name: lift-company
    url: "${LIFTS_URL}"
    filter: {events: [escalated], roles: [maintenance_company]}
  - name: every-escalation
    url: "${ALL_URL}"
    filter: {events: [escalated]}
"""


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    started = {name: Receiver().start() for name in ("duty", "lifts", "all")}
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


def escalation(request_body: bytes) -> dict[str, Any]:
    event = json.loads(request_body)
    assert event["type"] == EventType.ESCALATED
    return dict(event["data"]["escalation"])


def test_each_level_reaches_only_its_endpoint_with_the_contacts(
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receivers: dict[str, Receiver],
    tmp_path: Path,
) -> None:
    opened_at = 1_767_232_800.0  # 2026-01-01 10:00 in Shanghai: no night-time escalation

    def minutes_after_opening(minutes: int) -> None:
        clock.set(opened_at + timedelta(minutes=minutes).total_seconds())

    clock.set(opened_at)
    site = parse_config({"sites": [{"id": "maple", "escalation": ROSTER}]}, Path("site.yaml"))
    service = TicketService(sessions, clock, policies=site_policies(site.sites))
    tick = Sweeper(service)
    path = tmp_path / "integrations.yaml"
    path.write_text(INTEGRATIONS)
    config = load_integrations(path, env={f"{k.upper()}_URL": r.url for k, r in receivers.items()})
    duty, lifts, every = (receivers[k].received for k in ("duty", "lifts", "all"))
    with dispatcher(sessions, clock, *routes(config, mqtt_url=None)) as d:
        number = open_ticket(service, clock, "lift-1")
        [opened] = outbox(service)
        respond_by = opened.payload["data"]["respond_by"]
        assert respond_by == "2026-01-01T02:15:00Z"
        assert drain(d) == 0  # opened: no endpoint wants it

        minutes_after_opening(15)
        assert tick.run_once() == 0  # at the deadline: not missed yet
        minutes_after_opening(16)
        assert tick.run_once() == 1  # respond missed, nobody asked: level 1
        assert drain(d) == 2
        assert len(duty) == 1
        assert lifts == []
        assert escalation(duty[0].body) | {"at": None} == {
            "level": 1,
            "roles": ["duty_manager"],
            "reason": "respond",
            "at": None,
            "contacts": [DUTY_MANAGER],
        }

        minutes_after_opening(29)
        assert tick.run_once() == 0  # 15 minutes after the deadline not yet reached
        minutes_after_opening(30)
        assert tick.run_once() == 1  # still unanswered 15 minutes after the deadline: level 2
        assert drain(d) == 2
        assert len(duty) == 1  # level 2 is not for the duty manager
        assert len(lifts) == 1
        assert escalation(lifts[0].body) | {"at": None} == {
            "level": 2,
            "roles": ["maintenance_company", "management"],
            "reason": "respond",
            "at": None,
            "contacts": [LIFT_COMPANY, MANAGEMENT],
        }

        minutes_after_opening(31)
        assert tick.run_once() == 1  # the onsite deadline is missed too: an update
        assert drain(d) == 0
    escalated = [e for e in outbox(service) if e.type is EventType.ESCALATED]
    assert [e.ticket for e in escalated] == [number, number]
    assert [r.webhook_id for r in every] == [e.event_id for e in escalated]
    assert [duty[0].webhook_id, lifts[0].webhook_id] == [e.event_id for e in escalated]
    log = DeliveryLog(sessions, clock)
    for endpoint, count in (("duty-manager", 1), ("lift-company", 1), ("every-escalation", 2)):
        page = log.list(endpoint=endpoint)
        assert [(v.status, v.event_type) for v in page.items] == [
            ("delivered", EventType.ESCALATED)
        ] * count
