"""What the API returns and accepts for tickets (contract §4): pydantic models, no storage.

Times are timezone-aware ``datetime`` in Python and ISO 8601 UTC strings (``...Z``) in JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from gateway.topics import ID_PATTERN, Kind
from rules.decision import Category, Priority
from tickets.lifecycle import Status


def utc_iso(value: datetime) -> str:
    """``2026-01-01T00:15:00Z``: one spelling of UTC, whatever offset the value carries."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcTime = Annotated[
    datetime,
    PlainSerializer(utc_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Identifier = Annotated[str, Field(pattern=ID_PATTERN.pattern)]


class Source(StrEnum):
    RULE = "rule"
    MANUAL = "manual"


class ReporterChannel(StrEnum):
    PHONE = "phone"
    APP = "app"
    FRONT_DESK = "front_desk"
    VISIT = "visit"


class _Input(BaseModel):
    """Request bodies: no coercion (``1`` is not a title), no unknown fields. Enum fields
    are lax on purpose: JSON carries them as strings, which strict mode would refuse."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, str_strip_whitespace=True)


class Reporter(_Input):
    room: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=3, max_length=32, pattern=r"^\+?[0-9][0-9 ()-]*$")
    channel: ReporterChannel = Field(strict=False)


class ManualTicketIn(_Input):
    """An owner's complaint or a request raised by staff (``POST /tickets``)."""

    site: Identifier
    building: str | None = Field(default=None, min_length=1, max_length=64)
    device: Identifier | None = None
    kind: Kind | None = Field(default=None, strict=False)
    location: str | None = Field(default=None, min_length=1, max_length=200)
    category: Category = Field(strict=False)
    priority: Priority = Field(strict=False)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    reporter: Reporter


class ActionIn(_Input):
    """Body of a lifecycle action (``POST /tickets/{id}/acknowledge`` and friends)."""

    actor: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=4000)


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True)


class HistoryEntry(_Output):
    at: UtcTime
    actor: str
    action: str
    """``opened``, ``occurred``, ``priority_raised``, ``condition_cleared``, or the past tense
    of a lifecycle action (``acknowledged``, ``started``, ``progress``, ``resolved``, ...)."""
    from_status: Status | None = None
    to_status: Status | None = None
    note: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class TicketView(_Output):
    """One ticket with every contract §4 field; also the ``data`` of outbound events."""

    id: str
    """The human-readable ticket number, e.g. ``ST-000123``."""
    site: str
    building: str | None
    device: str | None
    kind: Kind | None
    location: str | None
    rule: str | None
    category: Category
    priority: Priority
    status: Status
    title: str
    description: str
    source: Source
    opened_at: UtcTime
    acknowledged_at: UtcTime | None
    resolved_at: UtcTime | None
    closed_at: UtcTime | None
    condition_cleared_at: UtcTime | None
    respond_by: UtcTime
    onsite_by: UtcTime
    plan_by: UtcTime | None
    resolve_by: UtcTime | None
    follow_up_by: UtcTime | None
    escalation_level: int
    occurrences: int
    last_occurrence_at: UtcTime
    dedup_key: str
    owner: str | None
    evidence: dict[str, Any]
    reporter: Reporter | None = None
    history: list[HistoryEntry] = Field(default_factory=list)


class TicketPage(_Output):
    items: list[TicketView]
    next_cursor: str | None = None
    """Pass back as ``cursor`` for the next (older) page; ``None`` on the last page."""
