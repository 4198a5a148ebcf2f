"""The monthly review's colours at their exact boundaries (green ≥ 95 %, yellow 90-95 %,
red < 90 %), through the public ``TicketService.monthly_report`` the API route calls, on
SQLite and PostgreSQL. The simulated month (test_monthly_review.py) shows each colour but
none at 95.0 or 90.0, so ``>`` for ``≥`` would go unnoticed there.

Each site gets ``met + missed`` general complaints at 10:00; ``met`` are acknowledged at
10:30 (within the 4 h respond target), the others at 15:00 (5 h, late). Only the general
priority's respond step is read: the other steps are still running or were never done.
"""

from __future__ import annotations

from typing import Any

from steward.clock import FakeClock
from tests.tickets.helpers import complaint
from tests.tickets.timeline import local
from tickets.lifecycle import TicketAction
from tickets.service import TicketService

# site: (met, missed, compliance_pct, colour)
CASES: dict[str, tuple[int, int, float, str]] = {
    "at-95": (19, 1, 95.0, "green"),
    "below-95": (18, 1, 94.7, "yellow"),
    "at-90": (9, 1, 90.0, "yellow"),
    "below-90": (17, 2, 89.5, "red"),
}


def respond_step(service: TicketService, site: str) -> tuple[Any, ...]:
    report = service.monthly_report(site=site, month="2026-05")
    general = next(p for p in report.sla if p.priority == "general")
    step = next(s for s in general.steps if s.step == "respond")
    return (step.met, step.missed, step.pending, step.compliance_pct, step.colour)


def test_colours_at_and_just_below_each_threshold(service: TicketService, clock: FakeClock) -> None:
    clock.set(local("05-04 10:00"))
    on_time: list[str] = []
    late: list[str] = []
    for site, (met, missed, _pct, _colour) in CASES.items():
        numbers = [
            service.open_manual(
                ticket=complaint(site=site, title=f"complaint {i}"),
                idempotency_key=None,
                actor="desk",
            )[0].id
            for i in range(met + missed)
        ]
        on_time += numbers[:met]
        late += numbers[met:]
    clock.set(local("05-04 10:30"))
    for number in on_time:
        service.act(number=number, action=TicketAction.ACKNOWLEDGE, actor="alice")
    clock.set(local("05-04 15:00"))
    for number in late:
        service.act(number=number, action=TicketAction.ACKNOWLEDGE, actor="bob")

    found = {site: respond_step(service, site) for site in CASES}
    assert found == {
        site: (met, missed, 0, pct, colour) for site, (met, missed, pct, colour) in CASES.items()
    }
