"""``list``: filters and newest-first cursor pagination."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from gateway.topics import DeviceRef, Kind
from rules.decision import Category, Priority
from steward.clock import FakeClock
from tests.tickets.helpers import at, complaint, fire
from tickets.errors import BadCursor, InvalidRequest
from tickets.lifecycle import Status, TicketAction
from tickets.service import TicketService


def lift(n: int, site: str = "tower") -> DeviceRef:
    return DeviceRef(site, Kind.ELEVATOR, f"lift-{n}")


def test_walking_every_page_yields_every_ticket_once_newest_first(
    service: TicketService, clock: FakeClock
) -> None:
    service.apply(decisions=[fire(clock, ref=lift(n)) for n in range(120)])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = service.list(limit=25, cursor=cursor)
        pages += 1
        seen += [t.id for t in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 5
    assert seen == [f"ST-{n:06d}" for n in range(120, 0, -1)]


def test_the_last_full_page_has_no_next_cursor(service: TicketService, clock: FakeClock) -> None:
    service.apply(decisions=[fire(clock, ref=lift(n)) for n in range(50)])
    first = service.list(limit=25)
    assert first.next_cursor is not None
    second = service.list(limit=25, cursor=first.next_cursor)
    assert len(second.items) == 25
    assert second.next_cursor is None
    assert service.list(limit=500).next_cursor is None


def test_tickets_opened_while_paging_do_not_shift_pages(
    service: TicketService, clock: FakeClock
) -> None:
    service.apply(decisions=[fire(clock, ref=lift(n)) for n in range(6)])
    first = service.list(limit=3)
    service.apply(decisions=[fire(clock, ref=lift(99))])
    second = service.list(limit=3, cursor=first.next_cursor)
    assert [t.id for t in second.items] == ["ST-000003", "ST-000002", "ST-000001"]


def test_filters(service: TicketService, clock: FakeClock) -> None:
    t0 = at(clock)
    service.apply(decisions=[fire(clock, ref=lift(1))])  # 1 emergency, open
    clock.advance(3600)
    service.apply(
        decisions=[
            fire(
                clock,
                ref=lift(2, "harbour"),
                rule="elevator.power_loss",
                priority=Priority.IMPORTANT,
            )
        ]
    )  # 2
    clock.advance(3600)
    water = DeviceRef("tower", Kind.WATER_PRESSURE, "riser-1")
    service.apply(
        decisions=[fire(clock, ref=water, rule="water_pressure.low", priority=Priority.GENERAL)]
    )  # 3
    service.open_manual(
        ticket=complaint(category=Category.SERVICE), idempotency_key=None, actor="desk"
    )  # 4
    service.act(number="ST-000001", action=TicketAction.ACKNOWLEDGE, actor="a")
    service.act(number="ST-000002", action=TicketAction.RESOLVE, actor="a")

    def ids(**filters: object) -> list[int]:
        page = service.list(**filters)  # type: ignore[arg-type]
        return [int(t.id.removeprefix("ST-")) for t in page.items]

    assert ids() == [4, 3, 2, 1]
    assert ids(status=[Status.OPEN]) == [4, 3]
    assert ids(status=[Status.ACKNOWLEDGED, Status.RESOLVED]) == [2, 1]
    assert ids(priority=Priority.GENERAL) == [4, 3]
    assert ids(category=Category.SERVICE) == [4]
    assert ids(site="harbour") == [2]
    assert ids(kind=Kind.WATER_PRESSURE) == [3]
    assert ids(device="lift-1") == [1]
    assert ids(rule="elevator.power_loss") == [2]
    hour = timedelta(hours=1)
    assert ids(opened_after=t0 + hour) == [4, 3, 2]  # inclusive
    assert ids(opened_before=t0 + hour) == [1]  # exclusive
    assert ids(opened_after=t0 + hour, opened_before=t0 + 2 * hour) == [2]
    assert ids(
        site="tower", status=[Status.OPEN], priority=Priority.GENERAL, kind=Kind.WATER_PRESSURE
    ) == [3]
    assert ids(site="nowhere") == []


def test_list_returns_full_tickets_with_history(service: TicketService, clock: FakeClock) -> None:
    service.apply(decisions=[fire(clock), fire(clock)])
    [item] = service.list().items
    assert item == service.get(number=item.id)
    assert [h.action for h in item.history] == ["opened", "occurred"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "",
        base64.urlsafe_b64encode(b"x:12").decode(),
        base64.urlsafe_b64encode(b"t:-1").decode(),
        base64.urlsafe_b64encode(b"t:1e3").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_we_did_not_make_is_refused(service: TicketService, cursor: str) -> None:
    with pytest.raises(BadCursor, match="cursor"):
        service.list(cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 501])
def test_limits_outside_1_to_500_are_refused(service: TicketService, limit: int) -> None:
    with pytest.raises(InvalidRequest, match="limit"):
        service.list(limit=limit)


def test_times_without_an_offset_are_refused(service: TicketService) -> None:
    with pytest.raises(InvalidRequest, match="opened_after"):
        service.list(opened_after=datetime(2026, 1, 1))
    assert service.list(opened_after=datetime(2026, 1, 1, tzinfo=UTC)).items == []
