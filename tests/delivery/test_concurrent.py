"""Two dispatchers on one PostgreSQL database share the work and never hold one delivery at
the same time: each event arrives once, in order per ticket, and both did some of it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from delivery.models import DeliveryAttempt
from delivery.policy import RetryPolicy
from steward.clock import FakeClock, SystemClock
from tests.delivery.helpers import dispatcher, open_ticket, outbox, webhook_route
from tests.delivery.receiver import Receiver, Reply, always
from tests.mqtt_helpers import wait_for
from tickets.db import make_engine, migrate, session_factory
from tickets.lifecycle import TicketAction
from tickets.service import TicketService

TICKETS = 120


@pytest.fixture
def pg_engines(postgres_url: str) -> Iterator[list[Engine]]:
    engines = [make_engine(postgres_url) for _ in range(3)]
    migrate(engines[0])
    try:
        yield engines
    finally:
        for engine in engines:
            engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_dispatchers_never_deliver_one_event_concurrently(
    pg_engines: list[Engine], clock: FakeClock, receiver: Receiver
) -> None:
    receiver.script = always(Reply(200, delay_s=0.003))
    tickets_engine, *dispatcher_engines = pg_engines
    service = TicketService(session_factory(tickets_engine), clock)
    pair = [
        dispatcher(
            session_factory(engine),
            SystemClock(),
            webhook_route(receiver.url),
            policy=RetryPolicy(base_s=0.05, cap_s=0.5),
            poll_interval_s=0.01,
            batch_size=4,
            worker=f"dispatcher-{n}",
        )
        for n, engine in enumerate(dispatcher_engines)
    ]
    for d in pair:
        d.start()
    try:
        for i in range(TICKETS):
            number = open_ticket(service, clock, f"lift-{i}")
            service.act(number=number, action=TicketAction.ACKNOWLEDGE, actor="a")
            service.act(number=number, action=TicketAction.RESOLVE, actor="a")
        events = outbox(service)
        wait_for(lambda: len(receiver.received) >= len(events), timeout=60, what="all events")
    finally:
        for d in pair:
            d.stop()
    received = receiver.ids()
    assert sorted(received) == sorted(e.event_id for e in events)  # once each
    assert receiver.max_in_flight_per_id == 1
    by_ticket: dict[str, list[str]] = defaultdict(list)
    for request in receiver.received:
        by_ticket[json.loads(request.body)["subject"]].append(request.webhook_id)
    expected: dict[str, list[str]] = defaultdict(list)
    for event in events:
        expected[event.ticket].append(event.event_id)
    assert by_ticket == expected
    with tickets_engine.connect() as connection:
        workers = set(connection.scalars(select(DeliveryAttempt.worker)))
    assert workers == {"dispatcher-0", "dispatcher-1"}
