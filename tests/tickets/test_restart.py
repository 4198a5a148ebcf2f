"""A restart (new engine, same database) keeps numbers, tickets and the dedup guarantee."""

from __future__ import annotations

from sqlalchemy import delete

from gateway.topics import DeviceRef, Kind
from steward.clock import FakeClock
from tests.tickets.helpers import ENTRAPMENT_KEY, fire
from tickets.db import make_engine, migrate, session_factory, write_session
from tickets.models import OutboxEvent, Ticket, TicketEvent
from tickets.service import TicketService


def test_numbers_continue_and_active_tickets_still_dedup_after_a_restart(
    database_url: str, clock: FakeClock
) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    before = TicketService(session_factory(engine), clock)
    first = before.apply(decisions=[fire(clock)])[0]
    before.apply(decisions=[fire(clock, ref=DeviceRef("tower", Kind.ELEVATOR, "lift-2"))])
    engine.dispose()

    engine = make_engine(database_url)
    migrate(engine)
    try:
        after = TicketService(session_factory(engine), clock)
        assert after.get(number=first.id) == first
        again = after.apply(decisions=[fire(clock)])[0]
        assert (again.id, again.occurrences) == (first.id, 2)
        new = after.apply(decisions=[fire(clock, ref=DeviceRef("tower", Kind.ELEVATOR, "lift-3"))])
        assert new[0].id == "ST-000003"
        assert after.active_for(dedup_keys=[ENTRAPMENT_KEY]) == {ENTRAPMENT_KEY: first.id}
    finally:
        engine.dispose()


def test_a_deleted_newest_ticket_does_not_give_its_number_away(
    database_url: str, clock: FakeClock
) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    try:
        sessions = session_factory(engine)
        service = TicketService(sessions, clock)
        service.apply(decisions=[fire(clock)])
        with write_session(sessions) as session:  # e.g. an operator purging a test ticket
            session.execute(delete(OutboxEvent))
            session.execute(delete(TicketEvent))
            session.execute(delete(Ticket))
        assert service.apply(decisions=[fire(clock)])[0].id == "ST-000002"
        assert service.outbox_after(event_pk=0)[0].pk == 2  # readers' positions stay valid
    finally:
        engine.dispose()
