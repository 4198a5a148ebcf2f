"""A site on a fake clock: decisions as the rules engine makes them, people's actions, and the
runtime's clock ticks (a sweep at each whole minute the service has work, idle minutes
skipped). Times are written in the site's local time, like the standard's limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Decision
from rules.engine import RULES_BY_ID
from steward.clock import FakeClock
from tickets.lifecycle import TicketAction
from tickets.schemas import TicketView
from tickets.service import TicketService

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE = timedelta(minutes=1)
KIND_OF = {
    "elevator": Kind.ELEVATOR,
    "water": Kind.WATER_PRESSURE,
    "extinguisher": Kind.EXTINGUISHER,
    "patrol": Kind.PATROL,
}


def local(when: str, year: int = 2026) -> datetime:
    """``"04-02 10:05"`` → that minute in Shanghai."""
    return datetime.strptime(f"{year}-{when}", "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)


class Site:
    def __init__(self, service: TicketService, clock: FakeClock, site: str = "maple") -> None:
        self.service = service
        self.clock = clock
        self.site = site
        self.swept: list[tuple[datetime, TicketView]] = []
        """Every ticket a sweep changed, with the tick's time."""

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), SHANGHAI)

    def at(self, when: str) -> Site:
        """Run the clock ticks up to ``when`` (local), then stop the clock there."""
        self.run_until(local(when))
        return self

    def run_until(self, target: datetime) -> None:
        while True:
            due = self.service.next_due()
            if due is None:
                break
            tick = max(due, self.now).replace(second=0, microsecond=0) + MINUTE
            if tick > target:
                break
            self.clock.set(tick)
            self.swept += [(self.now, v) for v in self.service.sweep()]
        self.clock.set(target)

    def decision(
        self,
        action: Action,
        rule: str,
        device: str,
        *,
        building: str | None = None,
        kind: Kind | None = None,
    ) -> Decision:
        spec = RULES_BY_ID[rule]
        ref = DeviceRef(self.site, kind or KIND_OF[rule.split(".", maxsplit=1)[0]], device)
        return Decision(
            action=action,
            rule=rule,
            ref=ref,
            at=self.clock.now(),
            priority=spec.priority,
            category=spec.category,
            title=f"{spec.title} ({device})",
            description=spec.condition,
            dedup_key=f"{self.site}/{ref.kind.value}/{device}/{spec.group}",
            evidence={"rule": rule},
            building=building,
            location=f"{building or 'site'} {device}",
            auto_resolve=spec.auto_resolve,
        )

    def fire(self, rule: str, device: str, **where: Any) -> list[TicketView]:
        return self.service.apply(decisions=[self.decision(Action.FIRE, rule, device, **where)])

    def clear(self, rule: str, device: str, **where: Any) -> list[TicketView]:
        return self.service.apply(decisions=[self.decision(Action.CLEAR, rule, device, **where)])

    def act(
        self, number: str, action: TicketAction, actor: str = "alice", note: str = "ok"
    ) -> TicketView:
        return self.service.act(number=number, action=action, actor=actor, note=note)
