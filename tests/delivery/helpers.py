"""Building dispatchers and ticket traffic for delivery tests."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from delivery.config import WebhookConfig
from delivery.dispatcher import Dispatcher, Route
from delivery.webhook import WebhookConnector
from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Category, Decision, Priority, dedup_key
from steward.clock import Clock, FakeClock
from tickets.outbox import OutboxRecord
from tickets.service import TicketService

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def webhook_route(url: str, *, name: str = "hook", **config: Any) -> Route:
    webhook = WebhookConfig(name=name, url=url, **config)
    return Route(name, webhook.target, webhook.filter, WebhookConnector(webhook))


def dispatcher(
    sessions: sessionmaker[Session], clock: Clock, *routes: Route, **options: Any
) -> Dispatcher:
    options.setdefault("rng", random.Random(7))
    return Dispatcher(sessions, clock, list(routes), **options)


def drain(dispatcher: Dispatcher, passes: int = 10_000) -> int:
    """Run passes until one makes no attempt; returns the attempts made."""
    total = 0
    for _ in range(passes):
        made = dispatcher.run_once()
        if made == 0:
            return total
        total += made
    raise AssertionError(f"still sending after {passes} passes")


def fire(
    clock: FakeClock, device: str, *, site: str = "maple", priority: Priority = Priority.EMERGENCY
) -> Decision:
    ref = DeviceRef(site, Kind.ELEVATOR, device)
    return Decision(
        action=Action.FIRE,
        rule="elevator.entrapment",
        ref=ref,
        at=clock.now(),
        priority=priority,
        category=Category.FACILITY,
        title=f"Passenger trapped in {device}",
        description="car stopped between floors",
        dedup_key=dedup_key(ref, "entrapment"),
        evidence={"floor": 3},
        building="b1",
        location=f"Building 1, {device}",
    )


def open_ticket(service: TicketService, clock: FakeClock, device: str, **kw: Any) -> str:
    return service.apply(decisions=[fire(clock, device, **kw)])[0].id


def outbox(service: TicketService) -> list[OutboxRecord]:
    events: list[OutboxRecord] = []
    while page := service.outbox_after(event_pk=events[-1].pk if events else 0, limit=1000):
        events.extend(page)
    return events
