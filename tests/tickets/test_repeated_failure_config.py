"""elevator.repeated_failure follows the site file: the device's own thresholds and the
operator's priority override or switch-off (ELV-14 is decided in the runtime, from the ticket
history, so it is checked here through ``Steward``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.topics import DeviceRef, Kind
from rules.decision import Priority, dedup_key
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tests.rules.helpers import device, site_config
from tests.tickets.helpers import fire
from tickets.models import Ticket

LIFT = DeviceRef("test-site", Kind.ELEVATOR, "elv-1")


def faults(steward: Steward, clock: FakeClock, n: int) -> list[Ticket]:
    """``n`` distinct fault tickets for the lift, an hour apart; the tickets opened."""
    for i in range(n):
        clock.advance(3600)
        decision = fire(clock, rule="elevator.door_fault", ref=LIFT, key=dedup_key(LIFT, f"f{i}"))
        steward._apply([decision])
    with steward.sessions() as session:
        return list(session.scalars(select(Ticket).where(Ticket.rule.like("elevator.%"))))


def make(
    database_url: str, tmp_path: Path, rules: dict[str, Any], **thresholds: Any
) -> tuple[Steward, FakeClock]:
    config = site_config(device(LIFT, thresholds=thresholds), rules=rules)
    settings = Settings(
        database_url=database_url,
        telemetry_path=tmp_path / "telemetry.db",
        mqtt_ticket_events=False,
    )
    clock = FakeClock()
    return Steward(settings, clock=clock, config=config), clock


def test_the_devices_own_count_and_the_operators_priority(
    database_url: str, tmp_path: Path
) -> None:
    steward, clock = make(
        database_url,
        tmp_path,
        {"overrides": {"elevator.repeated_failure": {"priority": "emergency"}}},
        repeated_failure_count=2,
    )
    try:
        tickets = faults(steward, clock, 2)
        review = [t for t in tickets if t.rule == "elevator.repeated_failure"]
        assert len(review) == 1  # at the device's 2nd fault, not the default 3rd
        assert review[0].priority == Priority.EMERGENCY.value
        assert review[0].evidence["threshold"] == 2
    finally:
        steward.stop()


def test_switched_off_it_opens_nothing(database_url: str, tmp_path: Path) -> None:
    steward, clock = make(
        database_url, tmp_path, {"overrides": {"elevator.repeated_failure": {"enabled": False}}}
    )
    try:
        tickets = faults(steward, clock, 4)
        assert [t.rule for t in tickets] == ["elevator.door_fault"] * 4
    finally:
        steward.stop()
