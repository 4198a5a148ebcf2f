"""``TicketService``: the ticket store's API for the rules pipeline and the HTTP API.

Every method is one transaction. Writes go through a ``Journal``, so every change appends
history and leaves exactly one outbox event in the same commit. Times come from the injected
clock only.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Category, Decision, Priority
from steward.clock import Clock, as_datetime
from tickets import changes, report, silences, suppress, sweep
from tickets.db import read_session, write_session
from tickets.errors import Conflict, InvalidRequest, TicketNotFound
from tickets.lifecycle import ACTIVE_STATUSES, Record, Status, TicketAction
from tickets.listing import TicketFilter, encode_cursor, page_query
from tickets.models import OutboxEvent, SuppressedCondition, Ticket
from tickets.outbox import Attempts, Journal, OutboxRecord, outbox_record
from tickets.policy import Policies
from tickets.render import ticket_view, ticket_views, view_query
from tickets.report import Fleet
from tickets.report_schema import MonthlyReport
from tickets.schemas import (
    FollowUpIn,
    ManualTicketIn,
    SilenceIn,
    SilenceState,
    SilenceView,
    TicketPage,
    TicketView,
    Via,
)
from tickets.sla import SlaPolicy
from tickets.store import find_by_idempotency_key

log = logging.getLogger("steward.tickets")

IDEMPOTENCY_KEY_MAX = 200
_KEY_CHUNK = 500  # stay far below any database's bound-parameter limit


class TicketService:
    """Tickets in a SQL database: opened and updated by rule decisions, opened by people
    (complaints), moved through their lifecycle by people, read by the API and connectors."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        sla: SlaPolicy | None = None,
        *,
        event_source: str = "/steward",
        policies: Policies | None = None,
    ) -> None:
        """``event_source`` prefixes the CloudEvents ``source`` (``{prefix}/sites/{site}``).
        ``policies``: each site's SLA, time zone, escalation roster, reminders and inhibition
        (``tickets.config.site_policies``); ``sla`` alone replaces the default SLA."""
        self._sessions = session_factory
        self._clock = clock
        self._event_source = event_source
        self.on_committed: Callable[[], None] | None = None
        """Called after each committed change that published events (the runtime wakes the
        delivery dispatcher with it: an operator's action or an escalation is sent at once,
        not at the dispatcher's next poll)."""
        self._policies = policies or Policies()
        if sla is not None:
            self._policies = Policies(
                replace(self._policies.default, sla=sla), self._policies.sites
            )

    @property
    def _sla(self) -> SlaPolicy:
        return self._policies.default.sla

    @property
    def policies(self) -> Policies:
        return self._policies

    def reconfigure(self, policies: Policies) -> None:
        """New site policies (a reloaded site file): deadlines already set are kept, new
        tickets and the sweep use the new ones."""
        self._policies = policies

    def _site_sla(self, site: str) -> SlaPolicy:
        return self._policies.for_site(site).sla

    @contextmanager
    def _writing(self, attempts: Attempts | None = None) -> Iterator[Journal]:
        with write_session(self._sessions) as session:
            journal = Journal(
                session, now=as_datetime(self._clock.now()), source=self._event_source
            )
            yield journal
            marker = journal.marker()
            if attempts is not None:
                attempts.marker = marker
            journal.publish()
        if marker is not None and self.on_committed is not None:
            self.on_committed()

    def apply(
        self, *, decisions: Sequence[Decision], attempts: Attempts | None = None
    ) -> builtins.list[TicketView]:
        """Turn the rules' decisions into ticket changes, all or none; returns the tickets as
        each change left them (a CLEAR with nothing to clear changes nothing).

        Decisions are applied grouped by ``dedup_key`` (in their given order within a key):
        concurrent batches then lock tickets in one order and cannot deadlock each other.

        ``attempts``: the same decisions are being retried; if an earlier attempt committed
        after all (its COMMIT's answer was lost), they are not applied again.
        """
        if not decisions:
            return []
        if attempts is not None and attempts.committed(self._sessions):
            log.warning(
                "%d decisions were committed by an earlier attempt whose COMMIT's answer was "
                "lost: not applying them again",
                len(decisions),
            )
            return builtins.list(attempts.result or [])
        changed: list[TicketView] = []
        roots = self._policies.source_rules
        with self._writing(attempts) as journal:
            # Power cuts first, so the alarms they explain in the same batch are linked to
            # them; within each class in dedup_key order (see above).
            for decision in sorted(decisions, key=lambda d: (d.rule not in roots, d.dedup_key)):
                policy = self._policies.for_site(decision.ref.site)
                if decision.action is Action.FIRE:
                    changed.extend(suppress.fire(journal, decision, policy))
                    continue
                if (view := changes.clear(journal, decision, policy.sla)) is not None:
                    changed.append(view)
                suppress.clear(journal, decision)
            if attempts is not None:
                attempts.result = changed
        return changed

    def sweep(self) -> builtins.list[TicketView]:
        """What the clock owes: missed deadlines recorded and escalated, progress and daily
        reminders, suppressed conditions released when their window or root ends. Call it
        on every clock tick; it reads only tickets that are due (``sweep_at``)."""
        with self._writing() as journal:
            return sweep.sweep(journal, self._policies)

    def open_manual(
        self,
        *,
        ticket: ManualTicketIn,
        idempotency_key: str | None,
        actor: str,
        via: Via | None = None,
    ) -> tuple[TicketView, bool]:
        """Open a complaint ticket; ``True`` if created. Repeating a request with the same
        ``idempotency_key`` returns the ticket it created; reusing the key for a different
        request is a ``Conflict``.

        ``via``, here and in the lifecycle actions: the API key the request came with,
        recorded as ``data.via`` in every history entry the change writes."""
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
            raise InvalidRequest(f"idempotency key must be 1 to {IDEMPOTENCY_KEY_MAX} characters")
        request_hash = _fingerprint(ticket)
        with self._writing() as journal:
            if idempotency_key is not None:
                existing = find_by_idempotency_key(journal.session, idempotency_key)
                if existing is not None:
                    return _replay(existing, request_hash), False
            try:
                view = changes.open_manual(
                    journal,
                    ticket,
                    actor=actor,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    sla=self._site_sla(ticket.site),
                    via=via,
                )
            except IntegrityError:
                # A concurrent request with the same key committed first: it is the original.
                existing = (
                    None
                    if idempotency_key is None
                    else find_by_idempotency_key(journal.session, idempotency_key)
                )
                if existing is None:
                    raise
                return _replay(existing, request_hash), False
        return view, True

    def act(
        self,
        *,
        number: str,
        action: TicketAction,
        actor: str,
        note: str | None = None,
        via: Via | None = None,
    ) -> TicketView:
        """A lifecycle action; ``TicketNotFound``, ``InvalidTransition`` or ``NoteRequired``."""
        if action is TicketAction.CLOSE:
            return self.close(number=number, actor=actor, note=note, via=via)
        with self._writing() as journal:
            return changes.act(
                journal,
                number,
                action,
                actor=actor,
                note=note,
                policies=self._policies,
                via=via,
            )

    def close(
        self,
        *,
        number: str,
        actor: str,
        note: str | None = None,
        follow_up: FollowUpIn | None = None,
        via: Via | None = None,
    ) -> TicketView:
        """Close a resolved ticket, recording the follow-up call (result, satisfaction)."""
        with self._writing() as journal:
            return changes.close(
                journal,
                number,
                actor=actor,
                note=note,
                follow_up=follow_up,
                policies=self._policies,
                via=via,
            )

    def plan(self, *, number: str, actor: str, note: str, via: Via | None = None) -> TicketView:
        """The first plan / corrective measure (the SLA's plan step)."""
        with self._writing() as journal:
            return changes.record_action(
                journal, number, Record.PLAN, actor=actor, note=note, to=None, via=via
            )

    def reassign(
        self, *, number: str, actor: str, to: str, note: str, via: Via | None = None
    ) -> TicketView:
        """Hand the ticket to ``to``: ownership moves only this way, with a recorded reason."""
        with self._writing() as journal:
            return changes.record_action(
                journal, number, Record.REASSIGN, actor=actor, note=note, to=to, via=via
            )

    def next_due(self) -> datetime | None:
        """The earliest time ``sweep`` has something to do (``None``: nothing scheduled).
        A runtime may sleep until then instead of sweeping on every tick."""
        with read_session(self._sessions) as session:
            tickets = session.scalar(select(func.min(Ticket.sweep_at)))
            now = as_datetime(self._clock.now())
            released = suppress.next_release(session, self._policies, now)
        return min((t for t in (tickets, released) if t is not None), default=None)

    def monthly_report(
        self, *, site: str, month: str, fleet: Fleet | None = None, repeated_at: int = 3
    ) -> MonthlyReport:
        """The monthly review of ``site`` for ``month`` (``YYYY-MM``, the site's time zone),
        as of now. ``fleet`` (from the site file) turns patrol and inspection ticket counts
        into compliance rates."""
        now = as_datetime(self._clock.now())
        with read_session(self._sessions) as session:
            return report.monthly_report(
                session,
                site=site,
                month=month,
                policy=self._policies.for_site(site),
                now=now,
                fleet=fleet,
                repeated_at=repeated_at,
            )

    # -- maintenance windows ------------------------------------------------------------------
    def create_silence(self, *, silence: SilenceIn) -> SilenceView:
        """A maintenance window; ``InvalidRequest`` for a life-safety rule or a bad window."""
        with self._writing() as journal:
            created = silences.create(journal, silence)
            return silences.silence_view(created, journal.now)

    def end_silence(self, *, silence_id: int, actor: str) -> SilenceView:
        """End a window now: conditions still held open their tickets in this transaction."""
        with self._writing() as journal:
            silences.end(journal, silence_id, actor=actor, policies=self._policies)
        return self.get_silence(silence_id=silence_id)

    def get_silence(self, *, silence_id: int) -> SilenceView:
        with read_session(self._sessions) as session:
            found = silences.get(session, silence_id)
            return silences.silence_view(found, as_datetime(self._clock.now()))

    def list_silences(
        self, *, site: str | None = None, state: SilenceState | None = None, limit: int = 100
    ) -> builtins.list[SilenceView]:
        """Newest first."""
        if not 1 <= limit <= 500:
            raise InvalidRequest(f"limit must be between 1 and 500, got {limit}")
        now = as_datetime(self._clock.now())
        query = silences.listing(site=site, state=state, now=now, limit=limit)
        with read_session(self._sessions) as session:
            return [silences.silence_view(s, now) for s in session.scalars(query)]

    def suppressed_conditions(self) -> builtins.list[tuple[DeviceRef, str, float]]:
        """(device, rule, since) of conditions held without a ticket (silenced or inhibited):
        the rules engine must treat them as firing after a restart, like active tickets."""
        query = select(
            SuppressedCondition.site,
            SuppressedCondition.kind,
            SuppressedCondition.device,
            SuppressedCondition.rule,
            SuppressedCondition.first_at,
        ).where(SuppressedCondition.active_dedup_key.is_not(None))
        with read_session(self._sessions) as session:
            rows = session.execute(query).all()
        return [
            (DeviceRef(site, Kind(kind), device), rule, first.timestamp())
            for site, kind, device, rule, first in rows
            if kind and device
        ]

    def get(self, *, number: str) -> TicketView:
        with read_session(self._sessions) as session:
            rows = session.execute(view_query().where(Ticket.number == number)).all()
            if not rows:
                raise TicketNotFound(number)
            return ticket_views(session, rows)[0]

    def active_for(self, *, dedup_keys: Iterable[str]) -> dict[str, str]:
        """dedup_key → number of its active ticket, for the keys that have one."""
        keys = sorted(set(dedup_keys))
        found: dict[str, str] = {}
        with read_session(self._sessions) as session:
            for start in range(0, len(keys), _KEY_CHUNK):
                chunk = keys[start : start + _KEY_CHUNK]
                rows = session.execute(
                    select(Ticket.dedup_key, Ticket.number).where(
                        Ticket.active_dedup_key.in_(chunk)
                    )
                )
                found.update(rows.tuples().all())
        return found

    def count_active(self) -> int:
        query = select(func.count()).where(Ticket.status.in_([s.value for s in ACTIVE_STATUSES]))
        with read_session(self._sessions) as session:
            return int(session.scalar(query) or 0)

    def outbox_after(self, *, event_pk: int, limit: int = 100) -> builtins.list[OutboxRecord]:
        """Outbox events with ``pk > event_pk``, oldest first (pass the last ``pk`` back)."""
        if not 1 <= limit <= 1000:
            raise InvalidRequest(f"limit must be between 1 and 1000, got {limit}")
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.id > event_pk)
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
        with read_session(self._sessions) as session:
            return [outbox_record(row) for row in session.scalars(query)]

    def last_outbox_pk(self) -> int:
        """Where a reader that wants only new events starts (0 on an empty outbox)."""
        with read_session(self._sessions) as session:
            return int(session.scalar(select(func.max(OutboxEvent.id))) or 0)

    # Last, so that the annotations above do not see this method instead of the builtin.
    def list(
        self,
        *,
        status: Sequence[Status] = (),
        priority: Priority | None = None,
        category: Category | None = None,
        site: str | None = None,
        kind: Kind | None = None,
        device: str | None = None,
        rule: str | None = None,
        opened_after: datetime | None = None,
        opened_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> TicketPage:
        """Tickets matching every given filter, newest first, ``limit`` (1..500) at a time."""
        where = TicketFilter(
            status=tuple(status),
            priority=priority,
            category=category,
            site=site,
            kind=kind,
            device=device,
            rule=rule,
            opened_after=opened_after,
            opened_before=opened_before,
        )
        query = page_query(where, limit=limit, cursor=cursor)
        with read_session(self._sessions) as session:
            rows = session.execute(query).all()
            items = ticket_views(session, rows[:limit])
        next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
        return TicketPage(items=items, next_cursor=next_cursor)


def _fingerprint(ticket: ManualTicketIn) -> str:
    # Fields added later count only when given, so stored fingerprints stay valid.
    body = ticket.model_dump(mode="json", exclude={"rule"} if ticket.rule is None else None)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(existing: Ticket, request_hash: str) -> TicketView:
    if existing.request_hash != request_hash:
        raise Conflict(
            f"idempotency key already used for {existing.number} with a different request"
        )
    return ticket_view(existing)
