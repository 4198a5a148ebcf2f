"""Read-only questions the runtime asks the ticket store (kept out of the hot path)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, not_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.topics import DeviceRef, Kind
from rules.derived import NOT_FAULTS
from tickets.models import Ticket

ACTIVE = ("open", "acknowledged", "in_progress")


def active_rules(sessions: sessionmaker[Session]) -> list[tuple[DeviceRef, str, float]]:
    """(device, rule, opened) of every active rule ticket: what the engine must treat as
    already firing after a restart."""
    with sessions() as session:
        rows = session.execute(
            select(Ticket.site, Ticket.kind, Ticket.device, Ticket.rule, Ticket.opened_at).where(
                Ticket.status.in_(ACTIVE), Ticket.source == "rule"
            )
        ).all()
    return [
        (DeviceRef(site, Kind(kind), device), rule, opened.timestamp())
        for site, kind, device, rule, opened in rows
        if kind and device and rule
    ]


def active_by_device(sessions: sessionmaker[Session]) -> dict[str, list[str]]:
    with sessions() as session:
        rows = session.execute(
            select(Ticket.site, Ticket.device, Ticket.number)
            .where(Ticket.status.in_(ACTIVE), Ticket.device.is_not(None))
            .order_by(Ticket.id)
        ).all()
    out: dict[str, list[str]] = {}
    for site, device, number in rows:
        out.setdefault(f"{site}/{device}", []).append(number)
    return out


def opened_counts(sessions: sessionmaker[Session]) -> dict[tuple[str, str], int]:
    with sessions() as session:
        rows = session.execute(
            select(Ticket.priority, Ticket.source, func.count()).group_by(
                Ticket.priority, Ticket.source
            )
        ).all()
    return {(str(p), str(s)): int(n) for p, s, n in rows}


def elevator_fault_tickets(sessions: sessionmaker[Session], ref: DeviceRef, since: datetime) -> int:
    """Fault tickets of one elevator opened since ``since`` (sensor, IoT and calendar tickets
    are not faults of the elevator)."""
    excluded = or_(*(Ticket.rule.startswith(prefix) for prefix in NOT_FAULTS))
    with sessions() as session:
        count = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.site == ref.site,
                Ticket.kind == Kind.ELEVATOR.value,
                Ticket.device == ref.device,
                Ticket.source == "rule",
                Ticket.opened_at >= since,
                not_(excluded),
            )
        )
    return int(count or 0)
