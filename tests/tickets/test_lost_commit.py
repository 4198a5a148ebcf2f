"""A COMMIT whose answer is lost (the connection drops while the server commits): the writer
retries the batch, and the retry must see that the first attempt committed and not apply the
decisions a second time (a second occurrence, a second outbox event). Run on both databases,
though only PostgreSQL, over a network, loses answers this way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from steward.clock import FakeClock
from steward.writer import DecisionWriter
from tests.tickets.helpers import fire
from tickets.db import make_engine, migrate, session_factory
from tickets.models import OutboxEvent, Ticket
from tickets.outbox import Attempts
from tickets.service import TicketService


class LoseCommitAnswers:
    """Raises after the next ``n`` COMMITs of a ticket change went through, as a connection
    dropped while the server committed would (other transactions are let be)."""

    def __init__(self, sessions: sessionmaker[Session], n: int = 1) -> None:
        self.left = n
        event.listen(sessions, "after_flush", self._after_flush)
        event.listen(sessions, "after_commit", self._after_commit)

    @staticmethod
    def _after_flush(session: Session, _context: Any) -> None:
        # after_flush still sees what the flush wrote as ``new``
        if any(isinstance(o, OutboxEvent) for o in session.new):
            session.info["ticket_change"] = True

    def _after_commit(self, session: Session) -> None:
        if self.left > 0 and session.info.pop("ticket_change", False):
            self.left -= 1
            raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    migrate(engine)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def counts(sessions: sessionmaker[Session]) -> tuple[list[int], list[str]]:
    with sessions() as session:
        occurrences = list(session.scalars(select(Ticket.occurrences)))
        events = list(session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id)))
    return occurrences, events


def test_a_retry_after_a_lost_commit_answer_applies_nothing_twice(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    service = TicketService(sessions, clock)
    decisions = [fire(clock)]
    attempts = Attempts()
    LoseCommitAnswers(sessions)
    with pytest.raises(OperationalError):
        service.apply(decisions=decisions, attempts=attempts)
    assert counts(sessions) == ([1], ["steward.ticket.opened"])  # it did commit
    [view] = service.apply(decisions=decisions, attempts=attempts)  # the writer's retry
    assert view.occurrences == 1
    assert counts(sessions) == ([1], ["steward.ticket.opened"])
    # Without what the attempts remember, the retry is a second occurrence:
    service.apply(decisions=decisions, attempts=Attempts())
    assert counts(sessions) == ([2], ["steward.ticket.opened", "steward.ticket.updated"])


def test_an_attempt_that_did_not_commit_is_applied_again(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    service = TicketService(sessions, clock)
    attempts = Attempts()

    def fail_before_commit(session: Session, *_args: Any) -> None:
        raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))

    event.listen(sessions, "before_commit", fail_before_commit)
    with pytest.raises(OperationalError):
        service.apply(decisions=[fire(clock)], attempts=attempts)
    event.remove(sessions, "before_commit", fail_before_commit)
    assert counts(sessions) == ([], [])
    [view] = service.apply(decisions=[fire(clock)], attempts=attempts)
    assert view.occurrences == 1
    assert counts(sessions) == ([1], ["steward.ticket.opened"])


def test_the_writer_retries_a_lost_commit_without_a_duplicate(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    service = TicketService(sessions, clock)
    writer = DecisionWriter(
        lambda decisions, batch: service.apply(
            decisions=decisions, attempts=batch.step("decisions")
        )
    )
    LoseCommitAnswers(sessions)
    writer.start()
    try:
        writer.submit([fire(clock)], None)
        assert writer.flush(20)
    finally:
        writer.stop()
    assert writer.stats.failures == 1
    assert counts(sessions) == ([1], ["steward.ticket.opened"])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
