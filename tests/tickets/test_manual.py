"""Manual tickets (owner complaints): validation, SLA, idempotency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from rules.decision import Priority
from steward.clock import FakeClock
from tests.tickets.helpers import at, complaint
from tickets.db import make_engine, migrate, session_factory
from tickets.errors import Conflict, InvalidRequest
from tickets.lifecycle import Status
from tickets.schemas import ManualTicketIn, ReporterChannel, Source
from tickets.service import TicketService

BODY: dict[str, Any] = {
    "site": "tower",
    "category": "service",
    "priority": "important",
    "title": "Corridor light out on 12F",
    "reporter": {"room": "1203", "name": "Li Wei", "phone": "13800000000", "channel": "app"},
}


def test_a_complaint_opens_a_manual_ticket(service: TicketService, clock: FakeClock) -> None:
    view, created = service.open_manual(ticket=complaint(), idempotency_key=None, actor="desk-1")
    assert created
    assert (view.source, view.status, view.rule, view.device) == (
        Source.MANUAL,
        Status.OPEN,
        None,
        None,
    )
    assert view.dedup_key == f"manual/{view.id}"
    assert view.reporter is not None and view.reporter.channel is ReporterChannel.PHONE
    assert view.respond_by == at(clock) + timedelta(hours=4)  # general
    assert view.resolve_by == at(clock) + timedelta(hours=24)
    assert [(h.action, h.actor) for h in view.history] == [("opened", "desk-1")]


def test_the_same_idempotency_key_returns_the_same_ticket(
    service: TicketService, clock: FakeClock
) -> None:
    first, created = service.open_manual(ticket=complaint(), idempotency_key="req-1", actor="app")
    clock.advance(5)
    again, created_again = service.open_manual(
        ticket=complaint(), idempotency_key="req-1", actor="app"
    )
    assert (created, created_again) == (True, False)
    assert again == first
    assert len(service.outbox_after(event_pk=0)) == 1
    with pytest.raises(Conflict, match=first.id):
        service.open_manual(ticket=complaint("Another leak"), idempotency_key="req-1", actor="app")
    other, _ = service.open_manual(ticket=complaint(), idempotency_key=None, actor="app")
    assert other.id != first.id


def test_idempotency_keys_have_a_length_limit(service: TicketService) -> None:
    for key in ("", "k" * 201):
        with pytest.raises(InvalidRequest):
            service.open_manual(ticket=complaint(), idempotency_key=key, actor="app")


def test_json_bodies_are_parsed_strictly() -> None:
    parsed = ManualTicketIn.model_validate_json(__import__("json").dumps(BODY))
    assert (parsed.priority, parsed.reporter.channel) == (Priority.IMPORTANT, ReporterChannel.APP)
    assert ManualTicketIn.model_validate(BODY) == parsed  # as FastAPI hands it over
    bad = [
        {**BODY, "owner": "me"},
        {**BODY, "title": 42},
        {**BODY, "title": "   "},
        {**BODY, "title": "x" * 201},
        {**BODY, "priority": "urgent"},
        {**BODY, "site": "Tower A"},
        {**BODY, "reporter": {**BODY["reporter"], "channel": "fax"}},
        {**BODY, "reporter": {**BODY["reporter"], "phone": "call me"}},
        {k: v for k, v in BODY.items() if k != "reporter"},
    ]
    for body in bad:
        with pytest.raises(ValidationError):
            ManualTicketIn.model_validate(body)


@pytest.mark.postgres
def test_concurrent_retries_with_one_key_make_one_ticket(
    postgres_url: str, clock: FakeClock
) -> None:
    engine = make_engine(postgres_url)
    migrate(engine)
    service = TicketService(session_factory(engine), clock)
    start = threading.Barrier(4)

    def submit(_: int) -> tuple[str, bool]:
        start.wait()
        view, created = service.open_manual(
            ticket=complaint(), idempotency_key="retry", actor="app"
        )
        return view.id, created

    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(submit, range(4)))
    finally:
        engine.dispose()
    assert len({number for number, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]


def test_manual_tickets_never_absorb_each_other(
    service: TicketService, sessions: sessionmaker[Session]
) -> None:
    a, _ = service.open_manual(ticket=complaint(), idempotency_key=None, actor="app")
    b, _ = service.open_manual(ticket=complaint(), idempotency_key=None, actor="app")
    assert a.dedup_key != b.dedup_key
    assert service.count_active() == 2
