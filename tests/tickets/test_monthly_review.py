"""A simulated month (April 2026, Asia/Shanghai) with known incidents and known operator
actions, some on time and some late; every SLA figure and colour of the monthly review is
checked against values computed by hand (the working is in the comments).

Ticket legend (all local times; E emergency, I important, G general):

E1 04-02 10:00 entrapment lift-1     ack +5m, start +20m, resolved 10:40 (with G6)
G6 04-02 10:10 complaint about lift-1 (phone) → linked to E1, resolved with it; follow-up
               04-03 09:00, satisfaction 5
I1 04-03 10:00 water.burst pump-3    ack +30m, start +1h30, plan +3h, resolved +28h
G1 04-04 02:00 patrol missed cp-1    cleared (auto-resolved) +20m
G3 04-05 10:00 extinguisher low ext-1 ack +3h, plan +3h30, start +20h, resolved +23h
I2 04-06 09:00 fire network low fire-1 ack +1h, start +3h (late), plan +20h, progress
               04-08 11:00, resolved +80h (late)
G4 04-08 09:00 complaint light out (app) ack +5h (late), plan/start +6h (plan late),
               resolved +30h (late), follow-up 04-11 17:00 (late), satisfaction 2
E2 04-09 14:00 entrapment lift-2     ack +20m (late), start +50m (late), resolved +60m
G2 04-10 03:00 patrol missed cp-2    cleared +30m
I3 04-12 10:00 fire mode lift-1      ack +1h, start +1h30, plan +2h, cleared +5h
G5 04-14 11:00 complaint fee (front desk) ack +1h, plan +2h, resolved +3h, follow-up next
               day 10:00, satisfaction 5
E3 04-15 08:00 power loss lift-3 (b2): the root; lift-4 power loss and pump-1 low pressure
               in b2 are linked to it. ack +10m, progress +50m and +1h45, start +1h30,
               power back (auto-resolved) +2h30
G9 04-16 08:00 door fault lift-2     cancelled +10m (a test)
   04-16 09:00-12:00 maintenance window on lift-3
E4 04-16 10:30 entrapment lift-3 during the window: opens anyway. ack +5m, start +20m,
               resolved +40m
G12 04-16 12:01 door fault lift-3 fired 11:30 in the window, still on at its end
               ack 13:00, resolved 13:30
I4 04-18 15:00 complaint guard absent (app) ack +1h, start +1h, plan +10h, resolved
               +48h, follow-up +72h, satisfaction 4
E5 04-20 09:00 water outage pump-2   ack +10m, start +1h, no progress until 11:10,
               condition cleared 11:40, resolved 12:00
I5 04-22 10:00 water.burst pump-3    ack +30m, start +1h, plan +2h, resolved +8h
E6 04-25 23:30 entrapment lift-2 (night) ack +10m, start +25m, resolved +35m
G7 04-26 10:00 pump-3 offline        cleared +10m
G11 04-28 10:00 door fault lift-1    cleared +5m
G10 04-30 22:00 extinguisher low ext-3: still open when the report runs (05-01 00:30)
Outside the month: G8 03-31 20:00 inspection overdue ext-2 (resolved 04-10), and a door
fault on lift-4 at 05-01 00:10.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.topics import Kind
from rules.engine import RULES_BY_ID
from steward.clock import FakeClock
from steward.site import parse_config
from tests.services import create_postgres_database, drop_postgres_database
from tests.tickets.helpers import complaint
from tests.tickets.timeline import Site, local
from tickets.config import site_policies
from tickets.db import make_engine, migrate, session_factory
from tickets.lifecycle import TicketAction as A
from tickets.models import Ticket
from tickets.outbox import EventType
from tickets.render import ticket_view
from tickets.report import Fleet
from tickets.report_schema import MonthlyReport, report_csv
from tickets.schemas import FollowUpIn, ReporterChannel, SilenceIn
from tickets.service import TicketService

SITE_FILE = {
    "sites": [
        {
            "id": "maple",
            "timezone": "Asia/Shanghai",
            "escalation": {
                "duty_manager": [{"name": "Wang Fang", "phone": "+86 139 0000 0001"}],
                "maintenance_company": [{"name": "Otis Shanghai", "phone": "400 000 0000"}],
                "management": [{"name": "Chen Jie", "email": "chen@example.com"}],
            },
        }
    ]
}
FLEET = Fleet(
    patrol_intervals_s=[7200.0, 7200.0],
    devices={"elevator": 4, "extinguisher": 3, "water_pressure": 4, "patrol": 2},
    known=True,
)


class Month:
    """Plays the legend above in time order; ``t`` maps ticket names to numbers."""

    def __init__(self, site: Site, engine: Engine) -> None:
        self.site = site
        self.engine = engine
        self.t: dict[str, str] = {}

    def fire(self, name: str, rule: str, device: str, building: str, **kw: Any) -> None:
        views = self.site.fire(rule, device, building=building, **kw)
        if name:
            self.t[name] = views[0].id

    def clear(self, rule: str, device: str, building: str, **kw: Any) -> None:
        self.site.clear(rule, device, building=building, **kw)

    def act(self, name: str, action: A) -> None:
        self.site.act(self.t[name], action, note=f"{action.value} {name}")

    def plan(self, name: str) -> None:
        self.site.service.plan(number=self.t[name], actor="alice", note=f"plan for {name}")

    def complain(self, name: str, channel: ReporterChannel, **fields: Any) -> None:
        body = complaint(site="maple", title=f"complaint {name}", **fields)
        body = body.model_copy(
            update={"reporter": body.reporter.model_copy(update={"channel": channel})}
        )
        view, _ = self.site.service.open_manual(ticket=body, idempotency_key=name, actor="desk")
        self.t[name] = view.id

    def name_ticket(self, name: str, rule: str, device: str) -> None:
        key = f"maple/elevator/{device}/{RULES_BY_ID[rule].group}"
        self.t[name] = self.site.service.active_for(dedup_keys=[key])[key]

    def close(self, name: str, satisfaction: int | None) -> None:
        follow_up = None
        if satisfaction is not None:
            follow_up = FollowUpIn(result=f"called back about {name}", satisfaction=satisfaction)
        self.site.service.close(number=self.t[name], actor="desk", follow_up=follow_up)

    def silence(self, device: str, start: str, end: str) -> None:
        self.site.service.create_silence(
            silence=SilenceIn(
                site="maple",
                device=device,
                starts_at=local(start),
                ends_at=local(end),
                reason="annual inspection",
                author="zhang",
            )
        )


def script(m: Month) -> list[tuple[str, Callable[[], None]]]:
    b1, b2, b3 = "b1", "b2", "b3"
    entrapment, door = "elevator.entrapment", "elevator.door_fault"
    missed = "patrol.missed_checkpoint"
    low = "extinguisher.low_pressure"
    return [
        ("03-31 20:00", lambda: m.fire("G8", "extinguisher.inspection_overdue", "ext-2", b1)),
        ("04-02 10:00", lambda: m.fire("E1", entrapment, "lift-1", b1)),
        ("04-02 10:05", lambda: m.act("E1", A.ACKNOWLEDGE)),
        ("04-02 10:10", lambda: m.complain("G6", ReporterChannel.PHONE, device="lift-1")),
        ("04-02 10:20", lambda: m.act("E1", A.START)),
        ("04-02 10:40", lambda: m.act("E1", A.RESOLVE)),
        ("04-03 09:00", lambda: m.close("G6", 5)),
        ("04-03 09:05", lambda: m.close("E1", None)),
        ("04-03 10:00", lambda: m.fire("I1", "water.burst", "pump-3", b3)),
        ("04-03 10:30", lambda: m.act("I1", A.ACKNOWLEDGE)),
        ("04-03 11:30", lambda: m.act("I1", A.START)),
        ("04-03 13:00", lambda: m.plan("I1")),
        ("04-04 02:00", lambda: m.fire("G1", missed, "cp-1", b1)),
        ("04-04 02:20", lambda: m.clear(missed, "cp-1", b1)),
        ("04-04 14:00", lambda: m.act("I1", A.RESOLVE)),
        ("04-05 10:00", lambda: m.fire("G3", low, "ext-1", b1)),
        ("04-05 13:00", lambda: m.act("G3", A.ACKNOWLEDGE)),
        ("04-05 13:30", lambda: m.plan("G3")),
        ("04-06 06:00", lambda: m.act("G3", A.START)),
        ("04-06 09:00", lambda: m.act("G3", A.RESOLVE)),
        ("04-06 09:00", lambda: m.fire("I2", "water.fire_low_pressure", "fire-1", b1)),
        ("04-06 10:00", lambda: m.act("I2", A.ACKNOWLEDGE)),
        ("04-06 12:00", lambda: m.act("I2", A.START)),
        ("04-07 05:00", lambda: m.plan("I2")),
        ("04-08 09:00", lambda: m.complain("G4", ReporterChannel.APP, building=b1)),
        ("04-08 11:00", lambda: m.act("I2", A.PROGRESS)),
        ("04-08 14:00", lambda: m.act("G4", A.ACKNOWLEDGE)),
        ("04-08 15:00", lambda: m.plan("G4")),
        ("04-08 15:00", lambda: m.act("G4", A.START)),
        ("04-09 14:00", lambda: m.fire("E2", entrapment, "lift-2", b1)),
        ("04-09 14:20", lambda: m.act("E2", A.ACKNOWLEDGE)),
        ("04-09 14:50", lambda: m.act("E2", A.START)),
        ("04-09 15:00", lambda: m.act("E2", A.RESOLVE)),
        ("04-09 15:00", lambda: m.act("G4", A.RESOLVE)),
        ("04-09 17:00", lambda: m.act("I2", A.RESOLVE)),
        ("04-10 03:00", lambda: m.fire("G2", missed, "cp-2", b1)),
        ("04-10 03:30", lambda: m.clear(missed, "cp-2", b1)),
        ("04-10 09:00", lambda: m.act("G8", A.RESOLVE)),
        ("04-11 17:00", lambda: m.close("G4", 2)),
        ("04-12 10:00", lambda: m.fire("I3", "elevator.fire_mode", "lift-1", b1)),
        ("04-12 11:00", lambda: m.act("I3", A.ACKNOWLEDGE)),
        ("04-12 11:30", lambda: m.act("I3", A.START)),
        ("04-12 12:00", lambda: m.plan("I3")),
        ("04-12 15:00", lambda: m.clear("elevator.fire_mode", "lift-1", b1)),
        ("04-14 11:00", lambda: m.complain("G5", ReporterChannel.FRONT_DESK, category="fee")),
        ("04-14 12:00", lambda: m.act("G5", A.ACKNOWLEDGE)),
        ("04-14 13:00", lambda: m.plan("G5")),
        ("04-14 14:00", lambda: m.act("G5", A.RESOLVE)),
        ("04-15 08:00", lambda: m.fire("E3", "elevator.power_loss", "lift-3", b2)),
        ("04-15 08:01", lambda: m.fire("", "elevator.power_loss", "lift-4", b2)),
        ("04-15 08:05", lambda: m.fire("", "water.low_pressure", "pump-1", b2)),
        ("04-15 08:10", lambda: m.act("E3", A.ACKNOWLEDGE)),
        ("04-15 08:50", lambda: m.act("E3", A.PROGRESS)),
        ("04-15 09:30", lambda: m.act("E3", A.START)),
        ("04-15 09:45", lambda: m.act("E3", A.PROGRESS)),
        ("04-15 10:00", lambda: m.close("G5", 5)),
        ("04-15 10:30", lambda: m.clear("elevator.power_loss", "lift-3", b2)),
        ("04-15 10:31", lambda: m.clear("elevator.power_loss", "lift-4", b2)),
        ("04-15 10:32", lambda: m.clear("water.low_pressure", "pump-1", b2)),
        ("04-16 08:00", lambda: m.fire("G9", door, "lift-2", b1)),
        ("04-16 08:10", lambda: m.act("G9", A.CANCEL)),
        ("04-16 08:30", lambda: m.silence("lift-3", "04-16 09:00", "04-16 12:00")),
        ("04-16 10:00", lambda: m.fire("", "elevator.long_inspection", "lift-3", b2)),
        ("04-16 10:30", lambda: m.fire("E4", entrapment, "lift-3", b2)),
        ("04-16 10:35", lambda: m.act("E4", A.ACKNOWLEDGE)),
        ("04-16 10:50", lambda: m.act("E4", A.START)),
        ("04-16 11:00", lambda: m.clear("elevator.long_inspection", "lift-3", b2)),
        ("04-16 11:10", lambda: m.act("E4", A.RESOLVE)),
        ("04-16 11:30", lambda: m.fire("", door, "lift-3", b2)),
        # 12:01: the window's end tick opens G12 (see test)
        ("04-16 13:00", lambda: m.name_ticket("G12", door, "lift-3")),
        ("04-16 13:00", lambda: m.act("G12", A.ACKNOWLEDGE)),
        ("04-16 13:30", lambda: m.act("G12", A.RESOLVE)),
        (
            "04-18 15:00",
            lambda: m.complain(
                "I4", ReporterChannel.APP, category="service", priority="important", building=b1
            ),
        ),
        ("04-18 16:00", lambda: m.act("I4", A.START)),
        ("04-19 01:00", lambda: m.plan("I4")),
        ("04-20 09:00", lambda: m.fire("E5", "water.outage", "pump-2", b1)),
        ("04-20 09:10", lambda: m.act("E5", A.ACKNOWLEDGE)),
        ("04-20 10:00", lambda: m.act("E5", A.START)),
        ("04-20 11:10", lambda: m.act("E5", A.PROGRESS)),
        ("04-20 11:40", lambda: m.clear("water.outage", "pump-2", b1)),
        ("04-20 12:00", lambda: m.act("E5", A.RESOLVE)),
        ("04-20 15:00", lambda: m.act("I4", A.RESOLVE)),
        ("04-21 15:00", lambda: m.close("I4", 4)),
        ("04-22 10:00", lambda: m.fire("I5", "water.burst", "pump-3", b3)),
        ("04-22 10:30", lambda: m.act("I5", A.ACKNOWLEDGE)),
        ("04-22 11:00", lambda: m.act("I5", A.START)),
        ("04-22 12:00", lambda: m.plan("I5")),
        ("04-22 18:00", lambda: m.act("I5", A.RESOLVE)),
        ("04-25 23:30", lambda: m.fire("E6", entrapment, "lift-2", b1)),
        ("04-25 23:40", lambda: m.act("E6", A.ACKNOWLEDGE)),
        ("04-25 23:55", lambda: m.act("E6", A.START)),
        ("04-26 00:05", lambda: m.act("E6", A.RESOLVE)),
        (
            "04-26 10:00",
            lambda: m.fire("G7", "device.offline", "pump-3", b3, kind=Kind.WATER_PRESSURE),
        ),
        ("04-26 10:10", lambda: m.clear("device.offline", "pump-3", b3, kind=Kind.WATER_PRESSURE)),
        ("04-28 10:00", lambda: m.fire("G11", door, "lift-1", b1)),
        ("04-28 10:05", lambda: m.clear(door, "lift-1", b1)),
        ("04-30 22:00", lambda: m.fire("G10", low, "ext-3", b1)),
        ("05-01 00:10", lambda: m.fire("", door, "lift-4", b2)),
    ]


def play(m: Month) -> None:
    for when, step in script(m):
        m.site.at(when)
        step()
    m.site.at("05-01 00:30")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def month(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Month]:
    """The month is played once per database; the tests only read what it left."""
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('month') / 'steward.db'}", None
    else:
        url = drop = create_postgres_database()
    engine = make_engine(url)
    try:
        migrate(engine)
        clock = FakeClock(local("03-31 19:00"))
        policies = site_policies(parse_config(SITE_FILE, Path("site.yaml")).sites)
        service = TicketService(session_factory(engine), clock, policies=policies)
        m = Month(Site(service, clock), engine)
        play(m)
        yield m
    finally:
        engine.dispose()
        if drop is not None:
            drop_postgres_database(drop)


def steps(report: MonthlyReport, priority: str) -> dict[str, tuple[Any, ...]]:
    found = next(p for p in report.sla if p.priority == priority)
    return {s.step: (s.met, s.missed, s.pending, s.compliance_pct, s.colour) for s in found.steps}


def overall(report: MonthlyReport, priority: str) -> tuple[Any, ...]:
    o = next(p for p in report.sla if p.priority == priority).overall
    return (o.met, o.missed, o.pending, o.compliance_pct, o.colour)


def test_every_sla_figure_and_colour_of_the_month(month: Month) -> None:
    r = month.site.service.monthly_report(site="maple", month="2026-04", fleet=FLEET)
    assert (r.period_start, r.period_end) == (local("04-01 00:00"), local("05-01 00:00"))
    assert r.as_of == local("05-01 00:30")
    # 22 tickets opened in April (G8 in March and the lift-4 fault in May are not), G9
    # cancelled; four complaints.
    assert (r.opened, r.cancelled) == (22, 1)
    assert r.by_priority == {"emergency": 6, "important": 5, "general": 11}
    assert r.by_source == {"manual": 4, "rule": 18}

    # Emergency: respond late only for E2 (20 min); on site late only for E2 (50 > 30 min);
    # no follow-up calls (no complaints); progress kept by E3 (gaps 50, 55, 45 min) and not
    # by E5 (2 h 10 without an update). 11 met of 14 = 78.6 %.
    assert steps(r, "emergency") == {
        "respond": (5, 1, 0, 83.3, "red"),
        "onsite": (5, 1, 0, 83.3, "red"),
        "follow_up": (0, 0, 0, None, None),
        "progress": (1, 1, 0, 50.0, "red"),
    }
    assert overall(r, "emergency") == (11, 3, 0, 78.6, "red")
    # Important: I2 was on site after 3 h (> 2 h) and resolved after 80 h (> 72 h); I4's
    # follow-up call came a day after resolution. 19 met of 21 = 90.5 %: yellow.
    assert steps(r, "important") == {
        "respond": (5, 0, 0, 100.0, "green"),
        "onsite": (4, 1, 0, 80.0, "red"),
        "plan": (5, 0, 0, 100.0, "green"),
        "resolve": (4, 1, 0, 80.0, "red"),
        "follow_up": (1, 0, 0, 100.0, "green"),
    }
    assert overall(r, "important") == (19, 2, 0, 90.5, "yellow")
    # General (G9 cancelled, left out): G4 late to respond (5 h), plan (6 h), resolve (30 h)
    # and follow-up (50 h); G10 opened at 22:00 on the 30th is still within every deadline.
    # G6, resolved with E1 after 30 min, met all its steps without being acknowledged.
    assert steps(r, "general") == {
        "respond": (8, 1, 1, 88.9, "red"),
        "onsite": (9, 0, 1, 100.0, "green"),
        "plan": (8, 1, 1, 88.9, "red"),
        "resolve": (8, 1, 1, 88.9, "red"),
        "follow_up": (2, 1, 0, 66.7, "red"),
    }
    assert overall(r, "general") == (35, 4, 4, 89.7, "red")
    o = r.sla_overall
    assert (o.met, o.missed, o.pending, o.compliance_pct, o.colour) == (65, 9, 4, 87.8, "red")


def test_times_to_acknowledge_and_resolve(month: Month) -> None:
    r = month.site.service.monthly_report(site="maple", month="2026-04", fleet=FLEET)
    times = {
        t.scope: (
            (t.acknowledge.count, t.acknowledge.mean_s, t.acknowledge.p90_s),
            (t.resolve.count, t.resolve.mean_s, t.resolve.p90_s),
        )
        for t in r.times
    }
    # Acknowledged (s): E 300 1200 600 300 600 600; I 1800 3600 3600 3600 1800;
    # G 10800 18000 3600 3540. p90 is the ceil(0.9 n)-th smallest (15 → 14th: 10800).
    # Resolved (s): E 2400 3600 9000 2400 10800 2100; I 100800 288000 18000 172800 28800;
    # G 1800 1200 82800 108000 1800 10800 5340 600 300 (20 → 18th: 108000).
    assert times == {
        "all": ((15, 3596.0, 10800.0), (20, 42567.0, 108000.0)),
        "emergency": ((6, 600.0, 1200.0), (6, 5050.0, 10800.0)),
        "important": ((5, 2880.0, 3600.0), (5, 121680.0, 288000.0)),
        "general": ((4, 8985.0, 18000.0), (9, 23626.7, 108000.0)),
    }


def test_problems_failures_patrol_inspection_and_complaints(month: Month) -> None:
    r = month.site.service.monthly_report(site="maple", month="2026-04", fleet=FLEET)
    assert [(c.key, c.kind, c.tickets) for c in r.top_devices] == [
        ("lift-1", "elevator", 4),
        ("lift-3", "elevator", 3),
        ("pump-3", "water_pressure", 3),
        ("lift-2", "elevator", 2),
        ("cp-1", "patrol", 1),
        ("cp-2", "patrol", 1),
        ("ext-1", "extinguisher", 1),
        ("ext-3", "extinguisher", 1),
        ("fire-1", "water_pressure", 1),
        ("pump-2", "water_pressure", 1),
    ]
    assert [(c.key, c.tickets) for c in r.top_rules] == [
        ("elevator.entrapment", 4),
        ("elevator.door_fault", 2),
        ("extinguisher.low_pressure", 2),
        ("patrol.missed_checkpoint", 2),
        ("water.burst", 2),
        ("device.offline", 1),
        ("elevator.fire_mode", 1),
        ("elevator.power_loss", 1),
        ("water.fire_low_pressure", 1),
        ("water.outage", 1),
    ]
    assert [(c.key, c.tickets) for c in r.top_categories] == [
        ("facility", 16),
        ("service", 4),
        ("fee", 1),
    ]
    # lift-1 failed three times (entrapment, fire mode, door fault); lift-3's power loss is
    # the supply's failure, not the lift's.
    assert [(f.device, f.failures, f.rules) for f in r.repeated_failures] == [
        ("lift-1", 3, {"elevator.door_fault": 1, "elevator.entrapment": 1, "elevator.fire_mode": 1})
    ]
    # Two key-area checkpoints every 2 h over 30 days: 720 rounds, 2 missed.
    p = r.patrol
    assert (p.expected_rounds, p.missed_rounds, p.compliance_pct, p.colour) == (
        720,
        2,
        99.7,
        "green",
    )
    inspection = {
        i.kind: (i.devices, i.overdue_devices, i.compliance_pct, i.colour) for i in r.inspection
    }
    assert inspection == {
        "elevator": (4, [], 100.0, "green"),
        "extinguisher": (3, ["ext-2"], 66.7, "red"),  # overdue from 03-31 to 04-10
    }
    c = r.complaints
    assert (c.tickets, c.by_channel, c.by_category) == (
        4,
        {"app": 2, "front_desk": 1, "phone": 1},
        {"facility": 2, "fee": 1, "service": 1},
    )
    assert (c.linked_to_sensor_tickets, c.follow_ups, c.satisfaction_mean) == (1, 4, 4.0)


def _escalations(m: Month) -> list[tuple[str, int, str, datetime]]:
    names = {number: name for name, number in m.t.items()}
    found = []
    for record in m.site.service.outbox_after(event_pk=0, limit=1000):
        if record.type is EventType.ESCALATED:
            ticket = record.payload["data"]
            e = ticket["escalation"]
            found.append(
                (names.get(ticket["id"], ticket["id"]), e["level"], e["reason"], record.created_at)
            )
    return found


def test_escalations_fired_on_ticks_with_no_request_in_flight(month: Month) -> None:
    assert _escalations(month) == [
        ("G8", 1, "respond", local("04-01 00:01")),
        ("G8", 2, "respond", local("04-01 04:01")),
        ("I2", 1, "onsite", local("04-06 11:01")),
        ("G4", 1, "respond", local("04-08 13:01")),
        ("I2", 2, "resolve", local("04-09 11:01")),
        ("G4", 2, "resolve", local("04-09 13:01")),
        ("E2", 1, "respond", local("04-09 14:16")),
        ("E2", 2, "onsite", local("04-09 14:46")),
        ("E6", 1, "night", local("04-25 23:31")),
    ]
    e2 = month.site.service.get(number=month.t["E2"])
    assert e2.escalation is not None
    assert e2.escalation.roles == ["maintenance_company", "management"]
    assert [c["name"] for c in e2.escalation.contacts] == ["Otis Shanghai", "Chen Jie"]
    i2 = month.site.service.get(number=month.t["I2"])
    assert i2.escalation is not None and i2.escalation.roles == ["management"]
    trail = [(h.action, h.data.get("step") or h.data.get("level")) for h in e2.history]
    assert trail == [
        ("opened", None),
        ("sla_breached", "respond"),
        ("escalated", 1),
        ("acknowledged", None),
        ("sla_breached", "onsite"),
        ("escalated", 2),
        ("started", None),
        ("resolved", None),
    ]


def _reminders(m: Month, name: str) -> list[tuple[str, datetime]]:
    view = m.site.service.get(number=m.t[name])
    return [(h.data["reminder"], h.at) for h in view.history if h.action == "reminder"]


def test_hourly_progress_and_daily_reminders(month: Month) -> None:
    # E5 (water outage): nobody reported progress for 2 h 10 → reminders at 10:00 and 11:00
    # (seen on the next minute's tick); none after the update at 11:10 and the restoration.
    assert _reminders(month, "E5") == [
        ("progress_due", local("04-20 10:01")),
        ("progress_due", local("04-20 11:01")),
    ]
    assert _reminders(month, "E3") == []  # updates every 50-55 min until power came back
    # I2 ran from the 6th to the 9th: reminded at 16:00 on the 7th and 9th, not the 8th (a
    # progress update that morning); I4 on the 19th only.
    assert _reminders(month, "I2") == [
        ("daily_report", local("04-07 16:01")),
        ("daily_report", local("04-09 16:01")),
    ]
    assert _reminders(month, "I4") == [("daily_report", local("04-19 16:01"))]


def test_the_window_and_the_power_cut_in_the_month(month: Month) -> None:
    service = month.site.service
    # The power cut: one root ticket, the other lift and the pump linked, both cleared.
    e3 = service.get(number=month.t["E3"])
    assert [(c.device, c.rule, c.state) for c in e3.linked_conditions] == [
        ("lift-4", "elevator.power_loss", "cleared"),
        ("pump-1", "water.low_pressure", "cleared"),
    ]
    # The window: the inspection mode ended inside it (no ticket); the door fault outlived
    # it and opened G12 on the tick after 12:00; the entrapment opened at once (E4).
    [window] = service.list_silences(site="maple")
    assert [(c.rule, c.state, c.ticket) for c in window.conditions] == [
        ("elevator.long_inspection", "cleared", None),
        ("elevator.door_fault", "released", month.t["G12"]),
    ]
    g12 = service.get(number=month.t["G12"])
    assert g12.opened_at == local("04-16 12:01")
    assert g12.evidence["suppressed"]["since"] == "2026-04-16T03:30:00Z"
    e4 = service.get(number=month.t["E4"])
    assert e4.opened_at == local("04-16 10:30")
    # G6 was linked to E1 and resolved with it.
    g6 = service.get(number=month.t["G6"])
    assert (g6.parent, g6.resolved_at) == (month.t["E1"], local("04-02 10:40"))
    assert service.get(number=month.t["E1"]).linked == [month.t["G6"]]


def test_the_csv_carries_the_same_figures(month: Month) -> None:
    r = month.site.service.monthly_report(site="maple", month="2026-04", fleet=FLEET)
    rows = [line.split(",") for line in report_csv(r).splitlines()]
    assert rows[0] == ["section", "group", "item", "metric", "value"]
    table = {tuple(row[:4]): row[4] for row in rows[1:]}
    assert table["sla", "important", "all", "compliance_pct"] == "90.5"
    assert table["sla", "important", "all", "colour"] == "yellow"
    assert table["sla", "general", "onsite", "colour"] == "green"
    assert table["sla", "emergency", "progress", "missed"] == "1"
    assert table["time_to_resolve", "general", "", "mean_s"] == "23626.7"
    assert table["repeated_failures", "elevator", "lift-1", "failures"] == "3"
    assert table["complaints", "channel", "app", "tickets"] == "2"


def test_list_and_get_read_the_same_views_as_the_orm_gives(month: Month) -> None:
    """List and get read tickets without the ORM (``render.ticket_views``); every ticket of
    the month, whatever it holds, reads the same as the ORM's view of it."""
    with Session(month.engine) as session:
        tickets = session.scalars(select(Ticket).order_by(Ticket.id)).all()
        expected = {t.number: ticket_view(t) for t in tickets}
    listed, cursor = [], None
    while True:
        page = month.site.service.list(limit=7, cursor=cursor)
        listed += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert [v.id for v in listed] == sorted(expected, reverse=True)
    assert {v.id: v for v in listed} == expected
    for number, view in expected.items():
        assert month.site.service.get(number=number) == view
    views = expected.values()
    assert all(v.history for v in views)
    assert any(v.reporter for v in views) and any(v.follow_up for v in views)
    assert any(v.escalation for v in views) and any(v.parent for v in views)
    assert any(v.linked for v in views) and any(v.linked_conditions for v in views)
