"""A dispatcher's poll when there is nothing to do is one statement; it still notices a new
event and a retry that comes due. (At 10,000 msg/s the two dispatchers' idle passes, two
sessions and three ORM statements each, took a tenth of the process's interpreter time.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from delivery import store
from steward.clock import FakeClock, as_datetime
from tests.delivery.helpers import dispatcher, open_ticket, webhook_route
from tests.delivery.receiver import Receiver
from tickets.service import TicketService


def selects(engine: Engine) -> list[str]:
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            sent.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    return sent


def test_an_idle_poll_is_one_statement_and_a_due_retry_ends_it(
    engine: Engine, service: TicketService, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    receiver = Receiver()  # not started: attempts are refused
    with dispatcher(sessions, clock, webhook_route(receiver.url)) as d:
        d.open()
        assert d.run_once() == 0  # nothing yet
        open_ticket(service, clock, "lift-1")
        assert d.run_once() == 1  # the new event is queued and tried: refused
        with sessions() as session:
            state = store.endpoint_state(session, "hook")
        assert state.outbox_top == state.cursor
        assert state.next_attempt_at is not None
        assert state.next_attempt_at > as_datetime(clock.now())
        assert state.idle(as_datetime(clock.now()))

        sent = selects(engine)
        assert d.run_once() == 0  # the retry is not due yet
        assert len(sent) == 1, sent

        receiver.start()
        try:
            clock.set(state.next_attempt_at.timestamp())
            assert d.run_once() == 1  # due now: tried again, and delivered
            assert len(receiver.ids()) == 1
            with sessions() as session:
                after = store.endpoint_state(session, "hook")
            assert after.next_attempt_at is None  # nothing pending
            assert after.idle(as_datetime(clock.now()))
        finally:
            receiver.stop()
