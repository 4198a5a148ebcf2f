"""Maintenance windows (silences): create, list, end early. Matching and release live in
``tickets.suppress``; this module is the window's own bookkeeping."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tickets import suppress
from tickets.errors import InvalidRequest, TicketError
from tickets.models import Silence
from tickets.outbox import Journal
from tickets.policy import LIFE_SAFETY_RULES, Policies
from tickets.render import linked_condition
from tickets.schemas import SilenceIn, SilenceState, SilenceView, TicketView

MAX_WINDOW = timedelta(days=31)
"""Longer than a month is not maintenance: switch the rule off in the site file instead."""
PLAN_AHEAD = timedelta(days=366)


class SilenceNotFound(TicketError):  # noqa: N818
    def __init__(self, silence_id: int) -> None:
        super().__init__(f"no silence {silence_id}")
        self.silence_id = silence_id


def create(journal: Journal, body: SilenceIn) -> Silence:
    now = journal.now
    starts = body.starts_at or now
    if body.rule in LIFE_SAFETY_RULES:
        raise InvalidRequest(
            f"{body.rule} is a life-safety rule and is never silenced "
            f"(never silenced: {', '.join(sorted(LIFE_SAFETY_RULES))})"
        )
    if body.ends_at <= starts:
        raise InvalidRequest("ends_at must be after starts_at")
    if body.ends_at <= now:
        raise InvalidRequest("ends_at is in the past: the window would silence nothing")
    if body.ends_at - starts > MAX_WINDOW:
        raise InvalidRequest(f"a window may last at most {MAX_WINDOW.days} days")
    if starts - now > PLAN_AHEAD:
        raise InvalidRequest(f"a window may be planned at most {PLAN_AHEAD.days} days ahead")
    silence = Silence(
        site=body.site,
        building=body.building,
        device=body.device,
        rule=body.rule,
        starts_at=starts,
        ends_at=body.ends_at,
        reason=body.reason,
        author=body.author,
        created_at=now,
    )
    journal.session.add(silence)
    journal.session.flush()
    set_committed_value(silence, "conditions", [])  # new: nothing recorded yet, no query
    return silence


def end(journal: Journal, silence_id: int, *, actor: str, policies: Policies) -> list[TicketView]:
    """End the window now; conditions still held open their tickets at once."""
    silence = get(journal.session, silence_id, lock=True)
    now = journal.now
    if silence.ends_at <= now:
        raise InvalidRequest(f"silence {silence_id} has already ended")
    silence.ends_at = now
    silence.starts_at = min(silence.starts_at, now)
    silence.ended_by = actor
    journal.session.flush()
    return suppress.release(journal, policies)


def get(session: Session, silence_id: int, *, lock: bool = False) -> Silence:
    query = select(Silence).where(Silence.id == silence_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    silence = session.scalars(query).one_or_none()
    if silence is None:
        raise SilenceNotFound(silence_id)
    return silence


def listing(
    *, site: str | None, state: SilenceState | None, now: datetime, limit: int
) -> Select[tuple[Silence]]:
    query = select(Silence)
    if site is not None:
        query = query.where(Silence.site == site)
    if state is SilenceState.PENDING:
        query = query.where(Silence.starts_at > now)
    elif state is SilenceState.ACTIVE:
        query = query.where(Silence.starts_at <= now, Silence.ends_at > now)
    elif state is SilenceState.EXPIRED:
        query = query.where(Silence.ends_at <= now)
    return query.order_by(Silence.id.desc()).limit(limit)


def silence_view(silence: Silence, now: datetime) -> SilenceView:
    if now < silence.starts_at:
        state = SilenceState.PENDING
    elif now < silence.ends_at:
        state = SilenceState.ACTIVE
    else:
        state = SilenceState.EXPIRED
    return SilenceView(
        id=silence.id,
        site=silence.site,
        building=silence.building,
        device=silence.device,
        rule=silence.rule,
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        reason=silence.reason,
        author=silence.author,
        created_at=silence.created_at,
        ended_by=silence.ended_by,
        state=state,
        conditions=[linked_condition(c) for c in silence.conditions],
    )
