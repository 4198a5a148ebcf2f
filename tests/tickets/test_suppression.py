"""Maintenance windows and inhibition, applied before a ticket opens (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from rules.decision import Action
from steward.clock import FakeClock
from tests.tickets.helpers import complaint
from tests.tickets.timeline import Site, local
from tickets.errors import InvalidRequest
from tickets.lifecycle import Status
from tickets.lifecycle import TicketAction as A
from tickets.outbox import EventType
from tickets.policy import LIFE_SAFETY_RULES
from tickets.schemas import SilenceIn, SilenceState
from tickets.service import TicketService
from tickets.silences import SilenceNotFound

H = timedelta(hours=1)


@pytest.fixture
def site(sessions: sessionmaker[Session], clock: FakeClock) -> Site:
    clock.set(local("05-04 09:00"))
    return Site(TicketService(sessions, clock), clock)


def window(
    site: Site,
    *,
    hours: float = 2,
    start: float = 0,
    building: str | None = None,
    device: str | None = None,
    rule: str | None = None,
) -> int:
    now = site.now
    created = site.service.create_silence(
        silence=SilenceIn(
            site="maple",
            starts_at=now + start * H,
            ends_at=now + (start + hours) * H,
            reason="pump replacement",
            author="zhang",
            building=building,
            device=device,
            rule=rule,
        )
    )
    return created.id


def active(site: Site) -> list[tuple[str | None, str | None]]:
    page = site.service.list(status=[Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS])
    return sorted((t.device, t.rule) for t in page.items)


# -- silences -------------------------------------------------------------------------------


def test_a_condition_in_a_window_is_recorded_and_opens_no_ticket(site: Site) -> None:
    silence = window(site, device="pump-1")
    assert site.fire("water.low_pressure", "pump-1", building="b1") == []
    site.at("05-04 09:10")
    assert site.fire("water.low_pressure", "pump-1", building="b1") == []  # again: counted
    assert active(site) == []
    [held] = site.service.get_silence(silence_id=silence).conditions
    assert (held.rule, held.state, held.occurrences) == ("water.low_pressure", "silenced", 2)
    assert site.service.outbox_after(event_pk=0) == []  # nothing to tell anyone


def test_a_condition_that_clears_in_the_window_never_opens_a_ticket(site: Site) -> None:
    silence = window(site, device="pump-1")
    site.fire("water.low_pressure", "pump-1", building="b1")
    site.at("05-04 10:00")
    site.clear("water.low_pressure", "pump-1", building="b1")
    site.at("05-04 12:00")
    assert active(site) == []
    [held] = site.service.get_silence(silence_id=silence).conditions
    assert (held.state, held.cleared_at) == ("cleared", local("05-04 10:00"))


def test_when_the_window_ends_a_held_condition_opens_its_ticket_at_once(site: Site) -> None:
    window(site, hours=1, device="pump-1")
    site.fire("water.low_pressure", "pump-1", building="b1")
    site.at("05-04 10:01")  # the tick after the window's end
    assert active(site) == [("pump-1", "water.low_pressure")]
    [opened] = [v for at, v in site.swept if v.status is Status.OPEN]
    assert opened.opened_at == local("05-04 10:01")
    assert opened.evidence["suppressed"] == {
        "state": "silenced",
        "since": "2026-05-04T01:00:00Z",
        "silence": 1,
    }


def test_ending_a_window_early_opens_held_conditions_in_the_same_request(site: Site) -> None:
    silence = window(site, hours=4, building="b1")
    site.fire("water.low_pressure", "pump-1", building="b1")
    site.at("05-04 09:30")
    ended = site.service.end_silence(silence_id=silence, actor="zhang")
    assert (ended.state, ended.ends_at, ended.ended_by) == (
        SilenceState.EXPIRED,
        local("05-04 09:30"),
        "zhang",
    )
    assert active(site) == [("pump-1", "water.low_pressure")]
    assert [c.state for c in ended.conditions] == ["released"]
    with pytest.raises(InvalidRequest, match="already ended"):
        site.service.end_silence(silence_id=silence, actor="zhang")


@pytest.mark.parametrize(
    ("match", "silenced"),
    [
        ({}, True),  # the whole site
        ({"building": "b1"}, True),
        ({"building": "b2"}, False),
        ({"device": "pump-1"}, True),
        ({"device": "pump-2"}, False),
        ({"rule": "water.low_pressure"}, True),
        ({"rule": "water.burst"}, False),
        ({"building": "b1", "rule": "water.burst"}, False),  # every matcher must hold
    ],
)
def test_what_a_window_matches(site: Site, match: dict[str, str], silenced: bool) -> None:
    window(site, building=match.get("building"), device=match.get("device"), rule=match.get("rule"))
    opened = site.fire("water.low_pressure", "pump-1", building="b1")
    assert (opened == []) is silenced


def test_a_window_that_has_not_started_silences_nothing(site: Site) -> None:
    silence = window(site, start=1, device="pump-1")
    assert site.service.get_silence(silence_id=silence).state is SilenceState.PENDING
    assert len(site.fire("water.low_pressure", "pump-1", building="b1")) == 1


@pytest.mark.parametrize("rule", sorted(LIFE_SAFETY_RULES))
def test_life_safety_rules_are_never_silenced(site: Site, rule: str) -> None:
    with pytest.raises(InvalidRequest, match="never silenced"):
        window(site, rule=rule)
    window(site, device="lift-1")  # the whole lift is under maintenance...
    opened = site.fire(rule, "lift-1", building="b1")  # ...and still a person may be trapped
    assert [(v.rule, v.status) for v in opened] == [(rule, Status.OPEN)]


@pytest.mark.parametrize(
    ("hours", "start", "message"),
    [(0, 0, "after starts_at"), (2, -3, "in the past"), (24 * 32, 0, "at most 31 days")],
)
def test_bad_windows_are_refused(site: Site, hours: float, start: float, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        window(site, hours=hours, start=start)


def test_an_unknown_window_is_not_found(site: Site) -> None:
    with pytest.raises(SilenceNotFound):
        site.service.get_silence(silence_id=42)
    with pytest.raises(SilenceNotFound):
        site.service.end_silence(silence_id=42, actor="x")


def test_a_ticket_already_open_keeps_counting_in_a_window(site: Site) -> None:
    [opened] = site.fire("water.low_pressure", "pump-1", building="b1")
    window(site, device="pump-1")
    [again] = site.fire("water.low_pressure", "pump-1", building="b1")
    assert (again.id, again.occurrences) == (opened.id, 2)


def test_windows_are_listed_by_state(site: Site) -> None:
    past = window(site, hours=1, device="a")
    site.at("05-04 11:00")
    now = window(site, hours=1, device="b")
    later = window(site, start=2, device="c")
    by_state = {
        state: [s.id for s in site.service.list_silences(site="maple", state=state)]
        for state in SilenceState
    }
    assert by_state == {
        SilenceState.PENDING: [later],
        SilenceState.ACTIVE: [now],
        SilenceState.EXPIRED: [past],
    }
    assert [s.id for s in site.service.list_silences()] == [later, now, past]
    with pytest.raises(InvalidRequest):
        site.service.list_silences(limit=0)


# -- inhibition -----------------------------------------------------------------------------


def test_a_building_power_cut_is_one_root_ticket_with_the_others_linked(site: Site) -> None:
    [root] = site.fire("elevator.power_loss", "lift-1", building="b1")
    site.at("05-04 09:01")
    for rule, device in [
        ("elevator.power_loss", "lift-2"),
        ("water.low_pressure", "pump-1"),
        ("water.outage", "pump-2"),
        ("water.burst", "pump-3"),
    ]:
        assert [v.id for v in site.fire(rule, device, building="b1")] == [root.id]
    assert active(site) == [("lift-1", "elevator.power_loss")]
    view = site.service.get(number=root.id)
    assert [(c.device, c.state) for c in view.linked_conditions] == [
        ("lift-2", "inhibited"),
        ("pump-1", "inhibited"),
        ("pump-2", "inhibited"),
        ("pump-3", "inhibited"),
    ]
    assert [h.action for h in view.history].count("condition_linked") == 4
    updates = [r for r in site.service.outbox_after(event_pk=0) if r.ticket == root.id]
    assert [r.type for r in updates] == [EventType.OPENED] + [EventType.UPDATED] * 4
    # The same condition again: counted on its record, no new event.
    assert site.fire("elevator.power_loss", "lift-2", building="b1") == []


def test_a_power_cut_explains_only_its_own_building(site: Site) -> None:
    site.fire("elevator.power_loss", "lift-1", building="b1")
    site.fire("water.low_pressure", "pump-9", building="b2")
    assert active(site) == [("lift-1", "elevator.power_loss"), ("pump-9", "water.low_pressure")]


@pytest.mark.parametrize(
    "rule",
    [*sorted(LIFE_SAFETY_RULES), "water.fire_low_pressure", "elevator.door_fault"],
)
def test_what_a_power_cut_does_not_explain(site: Site, rule: str) -> None:
    """An entrapment is never inhibited; fire pumps have their own supply; a door fault is
    not a power alarm."""
    site.fire("elevator.power_loss", "lift-1", building="b1")
    opened = site.fire(rule, "lift-2" if rule.startswith("elevator") else "fire-1", building="b1")
    assert [v.rule for v in opened] == [rule]


def test_a_power_cut_and_its_alarms_in_one_batch(site: Site) -> None:
    """The root is applied first even when its alarms sort before it."""
    decisions = [
        site.decision(Action.FIRE, "water.low_pressure", "a-pump", building="b1"),
        site.decision(Action.FIRE, "elevator.power_loss", "z-lift", building="b1"),
    ]
    views = site.service.apply(decisions=decisions)
    assert active(site) == [("z-lift", "elevator.power_loss")]
    assert {v.rule for v in views} == {"elevator.power_loss"}


def test_a_declared_site_wide_power_cut_explains_every_building(site: Site) -> None:
    declared, _ = site.service.open_manual(
        ticket=complaint(
            site="maple",
            building=None,
            title="State Grid notice: supply cut 09:00-13:00",
            rule="power.cut",
            priority="emergency",
        ),
        idempotency_key=None,
        actor="desk",
    )
    site.fire("elevator.power_loss", "lift-1", building="b1")
    site.fire("water.low_pressure", "pump-7", building="b7")
    assert active(site) == [(None, "power.cut")]  # only the declared cut
    assert len(site.service.get(number=declared.id).linked_conditions) == 2


def test_when_the_root_closes_conditions_still_on_open_their_tickets(site: Site) -> None:
    [root] = site.fire("elevator.power_loss", "lift-1", building="b1")
    site.fire("elevator.power_loss", "lift-2", building="b1")
    site.fire("water.low_pressure", "pump-1", building="b1")
    site.at("05-04 10:00")
    site.clear("elevator.power_loss", "lift-1", building="b1")  # power back on lift-1...
    site.at("05-04 10:02")
    site.clear("water.low_pressure", "pump-1", building="b1")  # ...and at the pump
    site.at("05-04 10:04")
    assert active(site) == []  # lift-2 gets 5 minutes to come back too
    site.at("05-04 10:06")
    assert active(site) == [("lift-2", "elevator.power_loss")]  # it did not: its own ticket
    rows = site.service.get(number=root.id).linked_conditions
    assert [(c.device, c.state, c.ticket is not None) for c in rows] == [
        ("lift-2", "released", True),
        ("pump-1", "cleared", False),
    ]


def test_a_reopened_root_keeps_its_conditions(site: Site) -> None:
    [root] = site.fire("elevator.power_loss", "lift-1", building="b1")
    site.fire("water.low_pressure", "pump-1", building="b1")
    site.act(root.id, A.RESOLVE)
    site.at("05-04 09:03")
    site.act(root.id, A.REOPEN, note="power went again")
    site.at("05-04 10:00")
    assert active(site) == [("lift-1", "elevator.power_loss")]


def test_suppressed_conditions_are_reported_for_the_engine_restore(site: Site) -> None:
    window(site, device="pump-1")
    site.fire("water.low_pressure", "pump-1", building="b1")
    [(ref, rule, since)] = site.service.suppressed_conditions()
    assert (ref.device, rule, since) == ("pump-1", "water.low_pressure", site.clock.now())
