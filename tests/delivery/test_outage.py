"""The receiver is down for a simulated hour while 500 tickets change; when it is back,
every event arrives exactly once per ``webhook-id``, in order per ticket."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from sqlalchemy.orm import Session, sessionmaker

from delivery.log import DeliveryLog
from steward.clock import FakeClock
from tests.delivery.helpers import SECRET, dispatcher, drain, open_ticket, outbox, webhook_route
from tests.delivery.receiver import Receiver
from tests.delivery.standard_webhooks import verify
from tickets.lifecycle import TicketAction
from tickets.service import TicketService

TICKETS = 500
HOUR = 3600.0


@pytest.mark.slow
def test_an_hour_long_outage_loses_nothing_and_duplicates_nothing(
    service: TicketService, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    receiver = Receiver()  # its port is chosen, nothing listens yet: connections are refused
    route = webhook_route(receiver.url, secrets=[SECRET])
    with dispatcher(sessions, clock, route, batch_size=200) as d:
        numbers: list[str] = []
        for i in range(TICKETS):
            clock.advance(HOUR / TICKETS)
            numbers.append(open_ticket(service, clock, f"lift-{i}"))
            if i % 4 == 1:
                service.act(number=numbers[i - 1], action=TicketAction.ACKNOWLEDGE, actor="a")
            if i % 4 == 2:
                service.act(number=numbers[i - 1], action=TicketAction.ACKNOWLEDGE, actor="a")
                service.act(number=numbers[i - 2], action=TicketAction.START, actor="a")
            if i % 4 == 3:
                service.act(number=numbers[i - 3], action=TicketAction.RESOLVE, actor="a")
            if i % 25 == 0:
                d.run_once()  # every attempt in the outage fails and is rescheduled
        health = DeliveryLog(sessions, clock).endpoint("hook")
        assert (health.state, health.delivered) == ("failing", 0)
        assert health.retrying > 0
        receiver.start()
        try:
            clock.advance(HOUR)  # the longest backoff step: everything is due again
            drain(d)
        finally:
            receiver.stop()
    events = outbox(service)
    assert len(events) > TICKETS
    received = receiver.ids()
    assert sorted(received) == sorted(e.event_id for e in events)  # all, and each once
    by_ticket: dict[str, list[str]] = defaultdict(list)
    for request in receiver.received:
        by_ticket[json.loads(request.body)["subject"]].append(request.webhook_id)
        verify(SECRET, request.headers, request.body, now=clock.now())
    expected: dict[str, list[str]] = defaultdict(list)
    for event in events:
        expected[event.ticket].append(event.event_id)
    assert by_ticket == expected  # in order per ticket
    health = DeliveryLog(sessions, clock).endpoint("hook")
    assert (health.pending, health.failed, health.delivered) == (0, 0, len(events))
    assert health.state == "healthy"
