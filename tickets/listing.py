"""``GET /tickets``: filters, newest-first keyset pagination and its opaque cursor.

Keyset (``id < last seen``) rather than offset: a page costs the same at the millionth
ticket as at the first, and tickets opened while someone pages do not shift the pages.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, Select, bindparam

from gateway.topics import Kind
from rules.decision import Category, Priority
from tickets.errors import BadCursor, InvalidRequest
from tickets.lifecycle import Status
from tickets.models import MAX_ROW_ID, Ticket
from tickets.render import ROW_ID, doc_query, dump, ticket_docs, view_query

MAX_LIMIT = 500
_CURSOR_PREFIX = "t:"


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """All given criteria must hold; ``status`` matches any of its values."""

    status: tuple[Status, ...] = ()
    priority: Priority | None = None
    category: Category | None = None
    site: str | None = None
    kind: Kind | None = None
    device: str | None = None
    rule: str | None = None
    opened_after: datetime | None = None
    """Inclusive."""
    opened_before: datetime | None = None
    """Exclusive."""

    def __post_init__(self) -> None:
        for name in ("opened_after", "opened_before"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidRequest(f"{name} must carry a UTC offset, e.g. 2026-01-01T00:00Z")
            try:
                _ = value is not None and value.astimezone(UTC)
            except OverflowError:
                raise InvalidRequest(f"{name} is out of range") from None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.status:
            found.append(Ticket.status.in_([s.value for s in self.status]))
        equal = {
            Ticket.priority: self.priority,
            Ticket.category: self.category,
            Ticket.site: self.site,
            Ticket.kind: self.kind,
            Ticket.device: self.device,
            Ticket.rule: self.rule,
        }
        found.extend(column == str(value) for column, value in equal.items() if value is not None)
        if self.opened_after is not None:
            found.append(Ticket.opened_at >= self.opened_after)
        if self.opened_before is not None:
            found.append(Ticket.opened_at < self.opened_before)
        return found


def page_query(
    where: TicketFilter, *, limit: int, cursor: str | None, columns: Select[Any] | None = None
) -> Select[Any]:
    """One page plus one row (the extra row, if any, says there is a next page), as the
    columns ``render.ticket_views`` reads (or ``columns``: ``render.doc_query()``)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    query = (view_query() if columns is None else columns).where(*where.conditions())
    if cursor is not None:
        query = query.where(Ticket.id < decode_cursor(cursor))
    return query.order_by(Ticket.id.desc()).limit(limit + 1)


_EQUAL = ("priority", "category", "site", "kind", "device", "rule")


def page_statement(
    where: TicketFilter, *, limit: int, cursor: str | None
) -> tuple[Select[Any], dict[str, Any]]:
    """``page_query`` over ``render.doc_query()``, as a statement built once per shape of
    filter (which criteria are given, a cursor or not) and the values as its parameters.
    The same checks, in the same order, raise the same errors."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    params: dict[str, Any] = {"limit": limit + 1}
    if where.status:
        params["status"] = [s.value for s in where.status]
    for name in _EQUAL:
        value = getattr(where, name)
        if value is not None:
            params[name] = str(value)
    if where.opened_after is not None:
        params["opened_after"] = where.opened_after
    if where.opened_before is not None:
        params["opened_before"] = where.opened_before
    if cursor is not None:
        params["cursor"] = decode_cursor(cursor)
    return _statement(frozenset(params)), params


@cache
def _statement(shape: frozenset[str]) -> Select[Any]:
    """``page_query``'s statement with a bound parameter for each criterion in ``shape``."""
    query = doc_query()
    if "status" in shape:
        query = query.where(Ticket.status.in_(bindparam("status", expanding=True)))
    for name in _EQUAL:
        if name in shape:
            query = query.where(getattr(Ticket, name) == bindparam(name))
    if "opened_after" in shape:
        query = query.where(Ticket.opened_at >= bindparam("opened_after"))
    if "opened_before" in shape:
        query = query.where(Ticket.opened_at < bindparam("opened_before"))
    if "cursor" in shape:
        query = query.where(Ticket.id < bindparam("cursor"))
    return query.order_by(Ticket.id.desc()).limit(bindparam("limit", type_=Integer))


def page_json(
    connection: Connection, where: TicketFilter, *, limit: int, cursor: str | None
) -> bytes:
    """``TicketPage``'s JSON, as ``TicketService.list`` and FastAPI would answer, without
    pydantic (``render.ticket_docs``); ``render.Declined`` when it cannot vouch for a ticket."""
    rows = connection.execute(*page_statement(where, limit=limit, cursor=cursor)).all()
    items = ticket_docs(connection, rows[:limit])
    next_cursor = encode_cursor(rows[limit - 1][ROW_ID]) if len(rows) > limit else None
    return dump({"items": items, "next_cursor": next_cursor})


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for, or ``BadCursor`` for anything this module did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(f"cursor {cursor[:40]!r} is not one this API returned") from None
    digits = raw.removeprefix(_CURSOR_PREFIX)
    if not raw.startswith(_CURSOR_PREFIX) or not digits.isdigit() or int(digits) > MAX_ROW_ID:
        raise BadCursor(f"cursor {cursor[:40]!r} is not one this API returned")
    return int(digits)
