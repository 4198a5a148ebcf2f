"""Stored ticket → ``TicketView``: the one place that turns rows into the contract's shape.

Two ways in: ``ticket_view`` for a ticket the ORM already holds (after a change), and
``ticket_views`` for reads (list, get), which skip the ORM: one Core query for the tickets'
columns, one for their history, one for their linked conditions, whatever the page size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Integer,
    Row,
    Select,
    String,
    TypeDecorator,
    bindparam,
    exists,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType, TypeEngine

from gateway.topics import Kind
from rules.decision import Category, Priority
from tickets.lifecycle import Status
from tickets.models import SuppressedCondition, Ticket, TicketEvent, UtcDateTime
from tickets.schemas import (
    EscalationView,
    FollowUpView,
    LinkedCondition,
    Reporter,
    Source,
    TicketView,
)

COMPLAINT_LINKED = "complaint_linked"
"""History action on a ticket when a complaint is linked to it (``data.ticket``)."""


_NOT_SHOWN = {"active_dedup_key", "idempotency_key", "request_hash", "sweep_at"}
VIEW_COLUMNS = tuple(c for c in Ticket.__table__.c if c.key not in _NOT_SHOWN)
"""The ticket columns a view reads (a ``Row`` of these reads like a ``Ticket``)."""
_HISTORY_COLUMNS = (
    TicketEvent.ticket_id,
    TicketEvent.at,
    TicketEvent.actor,
    TicketEvent.action,
    TicketEvent.from_status,
    TicketEvent.to_status,
    TicketEvent.note,
    TicketEvent.data,
)
_HISTORY_FIELDS = tuple(c.key for c in _HISTORY_COLUMNS[1:])
"""``HistoryEntry``'s fields: the history columns but the ticket id."""


def view_query() -> Select[Any]:
    """``SELECT`` of the view's columns, to add ``WHERE``, ``ORDER BY`` and ``LIMIT`` to."""
    return select(*VIEW_COLUMNS)


def ticket_views(session: Session, rows: Sequence[Row[Any]]) -> list[TicketView]:
    """Views of tickets read with ``view_query``, in their order, with history and links."""
    ids = [row.id for row in rows]
    history: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    linked: defaultdict[int, list[SuppressedCondition]] = defaultdict(list)
    if ids:
        events = select(*_HISTORY_COLUMNS).where(TicketEvent.ticket_id.in_(ids))
        for ticket_id, *fields in session.execute(events.order_by(TicketEvent.id)):
            history[ticket_id].append(dict(zip(_HISTORY_FIELDS, fields, strict=True)))
        conditions = select(SuppressedCondition).where(SuppressedCondition.root_ticket_id.in_(ids))
        for condition in session.scalars(conditions.order_by(SuppressedCondition.id)):
            linked[condition.root_ticket_id or 0].append(condition)
    return [view_of(row._asdict(), history[row.id], linked[row.id]) for row in rows]


def history_entry(event: TicketEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _HISTORY_FIELDS}


def ticket_view(ticket: Ticket) -> TicketView:
    columns = {c.key: getattr(ticket, c.key) for c in VIEW_COLUMNS}
    return view_of(columns, [history_entry(e) for e in ticket.history], ticket.linked_conditions)


def view_of(
    ticket: dict[str, Any],
    history: Sequence[dict[str, Any]],
    linked: Sequence[SuppressedCondition],
) -> TicketView:
    """The view of a ticket's columns (by name), its history entries (``HistoryEntry``'s
    fields) and the conditions linked to it. Pydantic validates the whole tree in one call."""
    fields = {name: ticket[name] for name in _COPIED}
    fields["id"] = ticket["number"]
    fields["parent"] = ticket["parent_number"]
    fields["history"] = history
    fields["follow_up"] = _follow_up(ticket)
    fields["escalation"] = (ticket["sla_state"] or {}).get("escalation")
    fields["linked"] = [
        str(e["data"]["ticket"]) for e in history if e["action"] == COMPLAINT_LINKED
    ]
    fields["linked_conditions"] = [linked_condition(c) for c in linked]
    return TicketView.model_validate(fields)


_COPIED = tuple(
    name
    for name in TicketView.model_fields
    if name in {c.key for c in VIEW_COLUMNS} and name != "id"
)
"""View fields that are ticket columns of the same name, as they are (the view's ``id`` is
the ticket's number, not its row id)."""


def _follow_up(ticket: dict[str, Any]) -> FollowUpView | None:
    if ticket["followed_up_at"] is None:
        return None
    return FollowUpView(
        at=ticket["followed_up_at"],
        by=ticket["followed_up_by"] or "",
        result=ticket["follow_up_result"] or "",
        satisfaction=ticket["satisfaction"] or 0,
    )


def linked_condition(row: SuppressedCondition) -> LinkedCondition:
    return LinkedCondition(
        rule=row.rule,
        device=row.device,
        building=row.building,
        dedup_key=row.dedup_key,
        state=row.state,
        first_at=row.first_at,
        last_at=row.last_at,
        cleared_at=row.cleared_at,
        ticket=row.ticket_number,
        occurrences=row.occurrences,
    )


# -- the read routes' JSON, without pydantic -------------------------------------------------
#
# ``GET /tickets`` and ``GET /tickets/{number}`` answer with the JSON pydantic would make of
# ``TicketView``/``TicketPage``, built here from Core rows as plain dicts and written by
# orjson in one call: validating every ticket, history entry and time through pydantic and
# then serialising the tree again cost most of a list page's CPU. Times are read as naive UTC
# ``datetime``s (SQLite stores them so; PostgreSQL is asked for ``timezone('UTC', ...)``) and
# written by orjson as ``utc_iso`` writes them (``...Z``, microseconds only when there are
# some). What pydantic would validate is checked: the enums, that JSON objects are objects;
# the reporter and the escalation, rare and lenient (pydantic coerces some of their values),
# go through their own models. Anything else (a value out of its enum, a string orjson cannot
# write) makes the fast path decline (``Declined``), and the route answers through
# ``TicketService`` and ``TicketView`` as before, with their errors.


class utc_naive(FunctionElement[datetime]):  # noqa: N801 (a SQL function, named as one)
    """A time column as a naive ``datetime`` in UTC: the stored value on SQLite,
    ``timezone('UTC', column)`` on PostgreSQL (whatever the session's ``TimeZone``)."""

    type = DateTime()
    name = "utc_naive"
    inherit_cache = True


@compiles(utc_naive)
def _utc_naive(element: utc_naive, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(utc_naive, "postgresql")
def _utc_naive_postgresql(element: utc_naive, compiler: SQLCompiler, **kw: Any) -> str:
    return f"timezone('UTC', {compiler.process(element.clauses, **kw)})"


def _read(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` as the fast path reads it: times as naive UTC, the rest as stored."""
    if isinstance(column.type, UtcDateTime):
        return utc_naive(column).label(column.key)
    return column


_T = Ticket.__table__.c
_DOC_HEAD = (
    ("id", _T.number),
    *(
        (name, _T[name])
        for name in (
            "site",
            "building",
            "device",
            "kind",
            "location",
            "rule",
            "category",
            "priority",
            "status",
            "title",
            "description",
            "source",
            "opened_at",
            "acknowledged_at",
            "resolved_at",
            "closed_at",
            "condition_cleared_at",
            "respond_by",
            "onsite_by",
            "plan_by",
            "resolve_by",
            "follow_up_by",
            "escalation_level",
            "occurrences",
            "last_occurrence_at",
            "dedup_key",
            "owner",
            "evidence",
        )
    ),
)
"""``TicketView``'s leading fields, in its order, and the columns they are as they are."""
_HEAD_KEYS = tuple(name for name, _ in _DOC_HEAD)
_DOC_TAIL = (
    _T.id,
    _T.reporter,
    _T.onsite_at,
    _T.planned_at,
    _T.followed_up_at,
    _T.followed_up_by,
    _T.follow_up_result,
    _T.satisfaction,
    _T.parent_number,
    _T.sla_state,
)
"""What the rest of the view is made from (the row id last read by ``page_json``'s caller
for the next cursor is the first of these)."""
_HEAD = len(_DOC_HEAD)
ROW_ID = _HEAD
"""Index of the ticket's row id in a ``doc_query`` row."""
_E = TicketEvent.__table__.c
_HISTORY_READ = tuple(_read(_E[c.key]) for c in _HISTORY_COLUMNS)
_S = SuppressedCondition.__table__.c
_LINKED_READ = tuple(
    _read(c)
    for c in (
        _S.root_ticket_id,
        _S.rule,
        _S.device,
        _S.building,
        _S.dedup_key,
        _S.state,
        _S.first_at,
        _S.last_at,
        _S.cleared_at,
        _S.ticket_number,
        _S.occurrences,
    )
)
_LINKED_KEYS = tuple(LinkedCondition.model_fields)
_KINDS = frozenset(k.value for k in Kind) | {None}
_CATEGORIES = frozenset(c.value for c in Category)
_PRIORITIES = frozenset(p.value for p in Priority)
_STATUSES = frozenset(s.value for s in Status)
_SOURCES = frozenset(s.value for s in Source)
_STEP = _STATUSES | {None}
DUMP_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


class _Ids(TypeDecorator[list[int]]):
    """Row ids as one parameter: an ``integer[]`` on PostgreSQL, JSON text on SQLite (read
    back by ``json_each``). An expanding ``IN (...)`` would be rendered anew each request,
    one bound parameter (and on PostgreSQL one cast) per id."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(Integer()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[int] | None, dialect: Dialect) -> Any:
        if dialect.name == "postgresql" or value is None:
            return value
        return orjson.dumps(value).decode()


class in_ids(FunctionElement[Any]):  # noqa: N801 (a SQL expression, named as one)
    """``column IN ids`` for an ``_Ids`` parameter. (Typed ``NullType``: SQLAlchemy would
    write a ``Boolean`` one as ``... = 1`` on SQLite, which then scans the table.)"""

    type = NullType()
    name = "in_ids"
    inherit_cache = True


@compiles(in_ids)
def _in_ids(element: in_ids, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} IN (SELECT value FROM json_each({ids}))"  # noqa: S608 (compiled SQL)


@compiles(in_ids, "postgresql")
def _in_ids_postgresql(element: in_ids, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} = ANY ({ids})"


def doc_query() -> Select[Any]:
    """``SELECT`` of what ``ticket_docs`` reads, to add ``WHERE``, ``ORDER BY``, ``LIMIT``.
    The last column says whether any condition is linked to the ticket (an index probe a
    row): few tickets are roots, and a page without one skips that query."""
    has_linked = exists().where(_S.root_ticket_id == _T.id).label("has_linked")
    return select(
        *(_read(c).label(name) for name, c in _DOC_HEAD), *map(_read, _DOC_TAIL), has_linked
    )


# Built once, values as parameters: SQLAlchemy memoises a statement's cache key on the
# object, so executing one of these again skips building and hashing its ~40 columns
# (0.5 ms a request when the statement was built anew each time).
DOC_BY_NUMBER = doc_query().where(_T.number == bindparam("number"))
"""One ticket's ``doc_query`` row, by ``number``."""


_IDS = bindparam("ids", type_=_Ids())
HISTORY_OF = select(*_HISTORY_READ).where(in_ids(_E.ticket_id, _IDS)).order_by(_E.id)
"""The history of the tickets whose row ids are the ``ids`` parameter, oldest first."""
LINKED_TO = select(*_LINKED_READ).where(in_ids(_S.root_ticket_id, _IDS)).order_by(_S.id)
"""The conditions linked to the tickets whose row ids are the ``ids`` parameter."""


class Declined(Exception):  # noqa: N818
    """A stored value the fast path does not vouch for: answer through ``TicketView``."""


def ticket_docs(connection: Connection, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """``TicketView.model_dump()``'s dicts for tickets read with ``doc_query``, in their
    order, but with times as naive UTC ``datetime``s (write them with ``dump``). Raises
    ``Declined`` for a ticket pydantic might not read the same."""
    ids = [row[ROW_ID] for row in rows]
    history: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    linked: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        for ticket_id, at, actor, action, from_status, to_status, note, data in connection.execute(
            HISTORY_OF, {"ids": ids}
        ).all():
            if type(data) is not dict or from_status not in _STEP or to_status not in _STEP:
                raise Declined(f"history of ticket row {ticket_id}")
            history[ticket_id].append(
                {
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "from_status": from_status,
                    "to_status": to_status,
                    "note": note,
                    "data": data,
                }
            )
        roots = [row[ROW_ID] for row in rows if row[-1]]
        if roots:
            for root, *fields in connection.execute(LINKED_TO, {"ids": roots}).all():
                linked[root].append(dict(zip(_LINKED_KEYS, fields, strict=True)))
    return [_doc(row, history[row[ROW_ID]], linked[row[ROW_ID]]) for row in rows]


def _doc(
    row: Row[Any], history: list[dict[str, Any]], linked: list[dict[str, Any]]
) -> dict[str, Any]:
    doc = dict(zip(_HEAD_KEYS, row, strict=False))
    (
        row_id,
        reporter,
        onsite_at,
        planned_at,
        followed_up_at,
        followed_up_by,
        follow_up_result,
        satisfaction,
        parent,
        sla_state,
        _has_linked,
    ) = row[_HEAD:]
    if (
        doc["status"] not in _STATUSES
        or doc["priority"] not in _PRIORITIES
        or doc["category"] not in _CATEGORIES
        or doc["source"] not in _SOURCES
        or doc["kind"] not in _KINDS
        or type(doc["evidence"]) is not dict
        or (sla_state and type(sla_state) is not dict)
    ):
        raise Declined(f"ticket row {row_id}")
    try:
        doc["reporter"] = (
            None if reporter is None else Reporter.model_validate(reporter).model_dump(mode="json")
        )
        escalation = (sla_state or {}).get("escalation")
        if escalation is not None:
            escalation = EscalationView.model_validate(escalation).model_dump(mode="json")
        doc["history"] = history
        doc["readings_url"] = None
        doc["onsite_at"] = onsite_at
        doc["planned_at"] = planned_at
        doc["follow_up"] = (
            None
            if followed_up_at is None
            else {
                "at": followed_up_at,
                "by": followed_up_by or "",
                "result": follow_up_result or "",
                "satisfaction": satisfaction or 0,
            }
        )
        doc["escalation"] = escalation
        doc["parent"] = parent
        doc["linked"] = [
            str(e["data"]["ticket"]) for e in history if e["action"] == COMPLAINT_LINKED
        ]
    except (ValidationError, KeyError, TypeError) as exc:
        raise Declined(f"ticket row {row_id}") from exc
    doc["linked_conditions"] = linked
    return doc


def dump(value: Any) -> bytes:
    """JSON as pydantic writes the views (times as ``utc_iso``); ``Declined`` for what orjson
    cannot write (a lone surrogate, which the standard library's JSON reader lets through)."""
    try:
        return orjson.dumps(value, option=DUMP_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise Declined(str(exc)) from exc


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Connection]:
    """A connection for one read: ``sessions``' engine without a ``Session`` (nothing here
    needs one). On SQLite in one transaction, so its statements read one snapshot. On
    PostgreSQL in autocommit: in READ COMMITTED each statement takes its own snapshot
    inside a transaction too, so ``BEGIN`` and ``COMMIT`` would be two round trips for
    nothing."""
    engine: Engine = sessions.kw["bind"]
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            yield connection.execution_options(isolation_level="AUTOCOMMIT")
            return
        with connection.begin():
            yield connection
