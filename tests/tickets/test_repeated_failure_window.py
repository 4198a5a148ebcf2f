"""elevator.repeated_failure counts only the fault tickets inside its window (ELV-14: three in
30 days). The other tests reach the count with faults hours or days apart, so none shows that
a fault older than the window is left out."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gateway.topics import DeviceRef, Kind
from rules.decision import dedup_key
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tests.rules.helpers import device, site_config
from tests.tickets.helpers import fire
from tickets.models import Ticket

LIFT = DeviceRef("test-site", Kind.ELEVATOR, "elv-1")
DAY = 86400.0


def reviews(steward: Steward) -> list[Ticket]:
    with steward.sessions() as session:
        query = select(Ticket).where(Ticket.rule == "elevator.repeated_failure")
        return list(session.scalars(query))


def test_faults_older_than_30_days_do_not_count(database_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=database_url,
        telemetry_path=tmp_path / "telemetry.db",
        mqtt_ticket_events=False,
    )
    clock = FakeClock()
    steward = Steward(settings, clock=clock, config=site_config(device(LIFT)))
    n = 0

    def fault() -> None:
        nonlocal n
        n += 1
        key = dedup_key(LIFT, f"fault-{n}")
        steward._apply([fire(clock, rule="elevator.door_fault", ref=LIFT, key=key)])

    try:
        fault()  # day 0
        clock.advance(DAY)
        fault()  # day 1
        clock.advance(30 * DAY)
        fault()  # day 31: day 0 is out of the window, day 1 still in it
        assert reviews(steward) == []
        clock.advance(DAY)
        fault()  # day 32: day 0 and day 1 are out: days 31 and 32 only
        assert reviews(steward) == []
        clock.advance(DAY)
        fault()  # day 33: days 31, 32 and 33 are three in 30 days
        [review] = reviews(steward)
        assert review.evidence["fault_tickets"] == 3
        assert review.evidence["window_days"] == 30
    finally:
        steward.stop()
