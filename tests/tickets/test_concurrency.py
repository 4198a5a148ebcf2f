"""Writers racing on one condition still make one active ticket, with every firing counted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from steward.clock import FakeClock
from tests.tickets.helpers import ENTRAPMENT_KEY, fire
from tickets.db import make_engine, migrate, session_factory
from tickets.models import Ticket
from tickets.outbox import EventType
from tickets.service import TicketService

WRITERS = 4


def test_four_writers_firing_one_condition_make_one_ticket(
    service: TicketService, engine: Engine, clock: FakeClock
) -> None:
    start = threading.Barrier(WRITERS)

    def writer(_: int) -> str:
        start.wait()
        return service.apply(decisions=[fire(clock)])[0].id

    with ThreadPoolExecutor(WRITERS) as pool:
        numbers = set(pool.map(writer, range(WRITERS)))
    assert len(numbers) == 1
    ticket = service.get(number=numbers.pop())
    assert ticket.occurrences == WRITERS
    assert service.count_active() == 1
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Ticket)) == 1
    types = [e.type for e in service.outbox_after(event_pk=0)]
    assert types == [EventType.OPENED] + [EventType.UPDATED] * (WRITERS - 1)


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_losing_the_insert_race_becomes_an_occurrence(pg_engine: Engine, clock: FakeClock) -> None:
    """Force the race: just before our INSERT, a rival opens and commits the same condition.
    Our insert then hits the unique ``active_dedup_key`` and must turn into an occurrence."""
    service = TicketService(session_factory(pg_engine), clock)
    ours = threading.get_ident()
    rival_result: list[str] = []
    raced = threading.Event()

    def rival_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (
            threading.get_ident() == ours
            and statement.startswith("INSERT INTO tickets")
            and not raced.is_set()
        ):
            raced.set()
            with ThreadPoolExecutor(1) as pool:
                rival_result.append(
                    pool.submit(lambda: service.apply(decisions=[fire(clock)])[0].id).result()
                )

    event.listen(pg_engine, "before_cursor_execute", rival_first)
    try:
        [view] = service.apply(decisions=[fire(clock, evidence={"from": "loser"})])
    finally:
        event.remove(pg_engine, "before_cursor_execute", rival_first)
    assert raced.is_set()
    assert rival_result == [view.id]
    assert view.occurrences == 2
    assert view.history[-1].data["evidence"] == {"from": "loser"}
    assert service.active_for(dedup_keys=[ENTRAPMENT_KEY]) == {ENTRAPMENT_KEY: view.id}
    with pg_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Ticket)) == 1
