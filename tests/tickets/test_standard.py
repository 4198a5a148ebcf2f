"""The service standard on a real database: escalation on clock ticks, ownership and its
hand-over, plans, complaints linked to sensor tickets, follow-up calls, per-site policies."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from rules.decision import Priority
from steward.clock import FakeClock
from steward.site import ConfigError, parse_config
from tests.tickets.helpers import complaint
from tests.tickets.timeline import Site, local
from tickets.config import site_policies
from tickets.errors import InvalidTransition, NoteRequired
from tickets.lifecycle import Status
from tickets.lifecycle import TicketAction as A
from tickets.outbox import EventType
from tickets.schemas import FollowUpIn
from tickets.service import TicketService

M = timedelta(minutes=1)
ROSTER = {
    "duty_manager": [{"name": "Wang Fang", "phone": "+86 139 0000 0001"}],
    "maintenance_company": [{"name": "Otis Shanghai", "phone": "400 000 0000"}],
    "management": [{"name": "Chen Jie", "email": "chen@example.com"}],
}


def service_for(sessions: sessionmaker[Session], clock: FakeClock, **site: Any) -> TicketService:
    config = parse_config({"sites": [{"id": "maple", **site}]}, Path("site.yaml"))
    return TicketService(sessions, clock, policies=site_policies(config.sites))


@pytest.fixture
def site(sessions: sessionmaker[Session], clock: FakeClock) -> Site:
    clock.set(local("05-04 10:00"))
    return Site(service_for(sessions, clock, escalation=ROSTER), clock)


# -- escalation on the clock ----------------------------------------------------------------


def test_each_escalation_level_fires_on_a_tick_with_no_request_in_flight(
    site: Site, sessions: sessionmaker[Session]
) -> None:
    [ticket] = site.fire("elevator.entrapment", "lift-1", building="b1")
    start = site.service.last_outbox_pk()
    site.clock.set(local("05-04 10:15"))
    assert site.service.sweep() == []  # at the deadline: not missed yet
    site.clock.set(local("05-04 10:16"))
    [level1] = site.service.sweep()
    assert (level1.escalation_level, level1.escalation and level1.escalation.roles) == (
        1,
        ["duty_manager"],
    )
    assert level1.escalation is not None
    assert level1.escalation.contacts == [
        {"role": "duty_manager", "name": "Wang Fang", "phone": "+86 139 0000 0001"}
    ]
    # A restart: a new service on the same database carries on where the last one stopped.
    restarted = service_for(sessions, site.clock, escalation=ROSTER)
    site.clock.set(local("05-04 10:29"))
    assert restarted.sweep() == []
    site.clock.set(local("05-04 10:30"))  # still unanswered 15 minutes after the deadline
    [level2] = restarted.sweep()
    assert level2.escalation is not None
    assert (level2.escalation_level, level2.escalation.reason) == (2, "respond")
    assert [c["name"] for c in level2.escalation.contacts] == ["Otis Shanghai", "Chen Jie"]
    site.clock.set(local("05-04 10:31"))
    [onsite] = restarted.sweep()  # nobody on site after 30 minutes: recorded, level stays
    events = [(r.type, r.ticket) for r in site.service.outbox_after(event_pk=start)]
    assert events == [
        (EventType.ESCALATED, ticket.id),
        (EventType.ESCALATED, ticket.id),
        (EventType.UPDATED, ticket.id),
    ]
    trail = [
        (h.action, h.data.get("step") or h.data.get("level"), h.at) for h in onsite.history[1:]
    ]
    assert trail == [
        ("sla_breached", "respond", local("05-04 10:16")),
        ("escalated", 1, local("05-04 10:16")),
        ("escalated", 2, local("05-04 10:30")),
        ("sla_breached", "onsite", local("05-04 10:31")),
    ]
    site.clock.set(local("05-04 12:00"))
    assert restarted.sweep() == []  # nothing more to escalate


def test_the_sweep_reads_only_tickets_that_are_due(site: Site) -> None:
    site.fire("elevator.entrapment", "lift-1", building="b1")
    site.clock.set(local("05-04 10:01"))
    assert site.service.sweep() == []
    assert site.service.next_due() == local("05-04 10:15")
    site.clock.set(local("05-04 10:05"))
    assert site.service.sweep() == []  # nothing due: nothing read or written


# -- ownership, plans, hand-over ------------------------------------------------------------


def test_reassignment_is_explicit_and_recorded(site: Site) -> None:
    [ticket] = site.fire("water.burst", "pump-1", building="b1")
    site.act(ticket.id, A.ACKNOWLEDGE, actor="alice")
    site.act(ticket.id, A.START, actor="bob")
    assert site.service.get(number=ticket.id).owner == "alice"  # the first responder
    site.at("05-04 11:00")
    view = site.service.reassign(
        number=ticket.id, actor="alice", to="carol", note="off shift; carol has the parts"
    )
    assert view.owner == "carol"
    last = view.history[-1]
    assert (last.action, last.actor, last.note, last.data, last.at) == (
        "reassigned",
        "alice",
        "off shift; carol has the parts",
        {"from": "alice", "to": "carol"},
        local("05-04 11:00"),
    )
    resolved = site.act(ticket.id, A.RESOLVE, actor="dave")
    assert resolved.owner == "carol"


def test_the_first_plan_is_recorded_once(site: Site) -> None:
    [ticket] = site.fire("water.burst", "pump-1", building="b1")
    site.act(ticket.id, A.ACKNOWLEDGE)
    site.at("05-04 11:00")
    site.service.plan(number=ticket.id, actor="alice", note="isolate the riser, replace joint")
    site.at("05-04 12:00")
    view = site.service.plan(number=ticket.id, actor="alice", note="joint on order")
    assert view.planned_at == local("05-04 11:00")
    assert [h.action for h in view.history].count("planned") == 2


def test_start_records_the_arrival_on_site(site: Site) -> None:
    [ticket] = site.fire("elevator.entrapment", "lift-1", building="b1")
    site.at("05-04 10:05")
    site.act(ticket.id, A.ACKNOWLEDGE)
    site.at("05-04 10:25")
    view = site.act(ticket.id, A.START)
    assert (view.acknowledged_at, view.onsite_at) == (local("05-04 10:05"), local("05-04 10:25"))


@pytest.mark.parametrize(
    ("status", "allowed"),
    [(Status.RESOLVED, ["close", "reopen"]), (Status.CLOSED, ["reopen"]), (Status.CANCELLED, [])],
)
@pytest.mark.parametrize("action", ["plan", "reassign"])
def test_plans_and_hand_overs_need_an_active_ticket(
    site: Site, status: Status, allowed: list[str], action: str
) -> None:
    [ticket] = site.fire("water.burst", "pump-1", building="b1")
    if status is Status.CANCELLED:
        site.act(ticket.id, A.CANCEL)
    else:
        site.act(ticket.id, A.RESOLVE)
        if status is Status.CLOSED:
            site.act(ticket.id, A.CLOSE)
    with pytest.raises(InvalidTransition) as caught:
        if action == "plan":
            site.service.plan(number=ticket.id, actor="a", note="n")
        else:
            site.service.reassign(number=ticket.id, actor="a", to="b", note="n")
    assert (caught.value.status, caught.value.action, caught.value.allowed) == (
        status.value,
        action,
        allowed,
    )


def test_plans_and_hand_overs_need_a_note(site: Site) -> None:
    [ticket] = site.fire("water.burst", "pump-1", building="b1")
    with pytest.raises(NoteRequired):
        site.service.plan(number=ticket.id, actor="a", note="  ")
    with pytest.raises(NoteRequired):
        site.service.reassign(number=ticket.id, actor="a", to="b", note="")


# -- complaints and follow-up ---------------------------------------------------------------


def test_a_complaint_about_a_device_with_a_sensor_ticket_is_linked_to_it(site: Site) -> None:
    [minor] = site.fire("elevator.door_fault", "lift-1", building="b1")
    [stuck] = site.fire("elevator.entrapment", "lift-1", building="b1")
    body = complaint(site="maple", building=None, device="lift-1", title="Lift stuck, 12F")
    view, created = site.service.open_manual(ticket=body, idempotency_key="call-1", actor="desk")
    assert created
    assert (view.parent, view.kind, view.building) == (stuck.id, stuck.kind, "b1")
    assert view.history[0].data == {"idempotency_key": "call-1", "linked_to": stuck.id}
    # The retry of the same call is the same ticket, linked once.
    again, created_again = site.service.open_manual(
        ticket=body, idempotency_key="call-1", actor="desk"
    )
    assert (again.id, created_again) == (view.id, False)
    parent = site.service.get(number=stuck.id)
    assert parent.linked == [view.id]
    assert site.service.get(number=minor.id).linked == []
    # Resolving the sensor ticket resolves the complaint; the call back is still owed.
    site.at("05-04 10:40")
    site.act(stuck.id, A.RESOLVE)
    child = site.service.get(number=view.id)
    assert (child.status, child.resolved_at, child.history[-1].note) == (
        Status.RESOLVED,
        local("05-04 10:40"),
        f"resolved with {stuck.id}",
    )
    assert child.follow_up_by == local("05-06 10:40")


@pytest.mark.parametrize("device", [None, "lift-2"])
def test_a_complaint_without_an_open_sensor_ticket_stands_alone(
    site: Site, device: str | None
) -> None:
    [ticket] = site.fire("elevator.door_fault", "lift-1", building="b1")
    site.act(ticket.id, A.RESOLVE)
    site.fire("elevator.door_fault", "lift-2", building="b1")
    site.act(site.service.list(device="lift-2").items[0].id, A.CANCEL)
    view, _ = site.service.open_manual(
        ticket=complaint(site="maple", device=device), idempotency_key=None, actor="desk"
    )
    assert view.parent is None


def test_closing_records_the_follow_up_call(site: Site) -> None:
    view, _ = site.service.open_manual(
        ticket=complaint(site="maple"), idempotency_key=None, actor="desk"
    )
    site.act(view.id, A.ACKNOWLEDGE)
    site.act(view.id, A.RESOLVE)
    site.at("05-05 09:00")
    closed = site.service.close(
        number=view.id,
        actor="desk-2",
        note="called back",
        follow_up=FollowUpIn(result="fixed, thanks", satisfaction=5),
    )
    assert closed.follow_up is not None
    assert (
        closed.follow_up.at,
        closed.follow_up.by,
        closed.follow_up.result,
        closed.follow_up.satisfaction,
    ) == (local("05-05 09:00"), "desk-2", "fixed, thanks", 5)
    assert closed.history[-1].data == {"follow_up": {"result": "fixed, thanks", "satisfaction": 5}}


def test_a_missed_follow_up_call_escalates(site: Site) -> None:
    view, _ = site.service.open_manual(
        ticket=complaint(site="maple"), idempotency_key=None, actor="desk"
    )
    site.act(view.id, A.ACKNOWLEDGE)
    site.act(view.id, A.RESOLVE)
    site.at("05-06 10:01")
    escalated = site.service.get(number=view.id)
    assert escalated.escalation is not None
    assert (escalated.escalation_level, escalated.escalation.reason) == (1, "follow_up")


# -- per-site policies ----------------------------------------------------------------------


def test_a_site_sets_its_own_targets(sessions: sessionmaker[Session], clock: FakeClock) -> None:
    clock.set(local("05-04 10:00"))
    service = service_for(
        sessions,
        clock,
        sla={
            "general": {"respond": "1h", "resolve": "2d"},
            "rules": {"water.burst": {"onsite": "45m"}},
            "follow_up": "24h",
        },
    )
    site = Site(service, clock)
    [general] = site.fire("water.low_pressure", "pump-1", building="b1")
    [burst] = site.fire("water.burst", "pump-2", building="b1")
    assert (general.respond_by, general.resolve_by) == (local("05-04 11:00"), local("05-06 10:00"))
    assert burst.onsite_by == local("05-04 10:45")
    assert site.act(general.id, A.RESOLVE).follow_up_by == local("05-05 10:00")
    # Another site keeps the standard's defaults.
    other = Site(service, clock, site="oak")
    [default] = other.fire("water.low_pressure", "pump-1", building="b1")
    assert default.respond_by == local("05-04 14:00")


def test_reconfigure_applies_to_new_tickets(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    clock.set(local("05-04 10:00"))
    service = service_for(sessions, clock)
    config = parse_config(
        {"sites": [{"id": "maple", "sla": {"general": {"respond": "30m"}}}]}, Path("s.yaml")
    )
    service.reconfigure(site_policies(config.sites))
    [ticket] = Site(service, clock).fire("water.low_pressure", "pump-1", building="b1")
    assert ticket.respond_by == local("05-04 10:30")


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"sla": {"general": {"respond": "soon"}}}, "not a duration"),
        ({"sla": {"general": {"respond": -5}}}, "positive"),
        ({"sla": {"general": {"respnd": "1h"}}}, "Extra inputs"),
        ({"sla": {"daily_report_at": "18:00"}}, "before the report is due"),
        ({"escalation": {"level2_after": {"urgent": "1h"}}}, "emergency"),
        ({"escalation": {"duty_manager": [{"phone": "1"}]}}, "name"),
        ({"inhibit": {"targets": ["elevator.entrapment"]}}, "never inhibited"),
        ({"sla": {"rules": {"Not A Rule": {"onsite": "1h"}}}}, "pattern"),
    ],
)
def test_bad_ticket_sections_are_reported_with_their_path(
    section: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"sites": [{"id": "maple", **section}]}, Path("site.yaml"))
    assert problem in str(caught.value)
    assert "sites.0." in str(caught.value)


def test_every_priority_keeps_its_defaults_unless_given() -> None:
    config = parse_config({"sites": [{"id": "maple"}]}, Path("s.yaml"))
    policy = site_policies(config.sites).for_site("maple")
    assert policy.sla.targets_for(Priority.EMERGENCY, "elevator.entrapment").onsite == 30 * M
    assert policy.escalation.is_night(local("05-04 23:00").time())
    assert str(policy.timezone) == "Asia/Shanghai"
