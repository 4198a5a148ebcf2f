"""What the API returns and accepts for tickets (contract §4): pydantic models, no storage.

Times are timezone-aware ``datetime`` in Python and ISO 8601 UTC strings (``...Z``) in JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)
from pydantic.config import JsonDict
from typing_extensions import TypedDict

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


def no_nul(value: Any) -> Any:
    """Text with a NUL (U+0000) is refused: PostgreSQL cannot store it, and no field needs it."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL (U+0000) characters")
    return value


class _Input(BaseModel):
    """Request bodies: no coercion (``1`` is not a title), no unknown fields, no NUL in text.
    Enum fields are lax on purpose: JSON carries them as strings, which strict mode would
    refuse."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return no_nul(value)


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
    rule: Literal["power.cut"] | None = None
    """``power.cut``: staff declare a power cut (e.g. the utility's notice). It becomes the
    root ticket that explains elevator power-loss and pump-pressure alarms in its building,
    or in the whole site when ``building`` is not given."""


class ActionIn(_Input):
    """Body of a lifecycle action (``POST /tickets/{id}/acknowledge`` and friends)."""

    actor: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=4000)


class FollowUpIn(_Input):
    """The follow-up call with the person who reported the problem (回访)."""

    result: str = Field(min_length=1, max_length=2000)
    """What the owner said: fixed for good, still a problem, could not be reached..."""
    satisfaction: int = Field(ge=1, le=5)
    """1 (very dissatisfied) to 5 (very satisfied)."""


class CloseIn(ActionIn):
    """Body of ``POST /tickets/{id}/close``: complaints record their follow-up call here."""

    follow_up: FollowUpIn | None = None


class ReassignIn(_Input):
    """Body of ``POST /tickets/{id}/reassign``: ownership moves only this way."""

    actor: str = Field(min_length=1, max_length=100)
    to: str = Field(min_length=1, max_length=100)
    note: str = Field(min_length=1, max_length=4000)
    """Why: recorded in the history with who handed the ticket to whom."""


class PlanIn(_Input):
    """Body of ``POST /tickets/{id}/plan``: the first plan / corrective measure."""

    actor: str = Field(min_length=1, max_length=100)
    note: str = Field(min_length=1, max_length=4000)


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True)


class Via(TypedDict):
    """The API key a change came through, as a history entry's ``data.via``: never its
    secret."""

    key: str
    """``stw_<prefix>`` for a stored key, ``bootstrap`` for ``STEWARD_ADMIN_API_KEY``,
    ``open`` for the open (no keys) API."""
    name: str
    """The key's name when the change was made."""


_VIA_SCHEMA: JsonDict = {
    "type": "object",
    "description": "The API key the change came through. On every entry written by an API "
    "request; absent on Steward's own entries, on those written another way (the CLI) and on "
    "entries older than it.",
    "properties": {
        "key": {
            "type": "string",
            "description": "``stw_<prefix>`` for a stored key (never its secret), "
            "``bootstrap`` for ``STEWARD_ADMIN_API_KEY``, ``open`` for the open API",
            "examples": ["stw_1a2b3c4d"],
        },
        "name": {
            "type": "string",
            "description": "The key's name when the change was made",
            "examples": ["night desk"],
        },
    },
    "required": ["key", "name"],
}


class HistoryEntry(_Output):
    at: UtcTime
    actor: str
    """Who did it: the person a lifecycle action's body names, the key's name for a manual
    ticket, ``steward`` for what Steward does by itself."""
    action: str
    """``opened``, ``occurred``, ``priority_raised``, ``condition_cleared``, or the past tense
    of a lifecycle action (``acknowledged``, ``started``, ``progress``, ``resolved``, ...)."""
    from_status: Status | None = None
    to_status: Status | None = None
    note: str | None = None
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="What else the entry records, by action (``rule`` and ``evidence``, "
        "``follow_up``, ``from``/``to``, ...), and ``via``: the API key it came through.",
        json_schema_extra={"properties": {"via": _VIA_SCHEMA}},
    )


class FollowUpView(_Output):
    at: UtcTime
    by: str
    result: str
    satisfaction: int


class EscalationView(_Output):
    """The ticket's last escalation: who it reached, and why."""

    level: int
    roles: list[str]
    reason: str
    """The missed step (``respond``, ``onsite``, ``plan``, ``resolve``, ``follow_up``) or
    ``night`` (an emergency opened at night goes to the duty manager at once)."""
    at: UtcTime
    contacts: list[dict[str, str]] = Field(default_factory=list)


class LinkedCondition(_Output):
    """A condition this (root) ticket explains, linked to it instead of opening a ticket."""

    rule: str
    device: str | None
    building: str | None
    dedup_key: str
    state: str
    """``inhibited`` (holding), ``cleared``, or ``released`` (it opened ``ticket``)."""
    first_at: UtcTime
    last_at: UtcTime
    cleared_at: UtcTime | None = None
    ticket: str | None = None
    occurrences: int = 1


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
    readings_url: str | None = None
    """The device's readings around the evidence window (from 15 min before the condition
    began to the last occurrence), when the ticket is about a device; set by the API."""
    onsite_at: UtcTime | None = None
    """First ``start``: someone on site and working."""
    planned_at: UtcTime | None = None
    """First ``plan``: the first plan or corrective measure."""
    follow_up: FollowUpView | None = None
    escalation: EscalationView | None = None
    parent: str | None = None
    """The ticket this one is linked to (a complaint about a device with a sensor ticket)."""
    linked: list[str] = Field(default_factory=list)
    """Tickets linked to this one (complaints about the same device)."""
    linked_conditions: list[LinkedCondition] = Field(default_factory=list)


class TicketPage(_Output):
    items: list[TicketView]
    next_cursor: str | None = None
    """Pass back as ``cursor`` for the next (older) page; ``None`` on the last page."""


RULE_ID_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
RuleId = Annotated[str, Field(pattern=RULE_ID_PATTERN, max_length=100)]


class SilenceIn(_Input):
    """A maintenance window (``POST /silences``). Matchers left out match anything in the
    site; life-safety rules (entrapment, door open while moving) still open tickets."""

    site: Identifier
    building: str | None = Field(default=None, min_length=1, max_length=64)
    device: Identifier | None = None
    rule: RuleId | None = None
    starts_at: AwareDatetime | None = Field(default=None, strict=False)
    """Default: now."""
    ends_at: AwareDatetime = Field(strict=False)
    reason: str = Field(min_length=1, max_length=2000)
    author: str = Field(min_length=1, max_length=100)


class EndSilenceIn(_Input):
    actor: str = Field(min_length=1, max_length=100)


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class SilenceView(_Output):
    id: int
    site: str
    building: str | None
    device: str | None
    rule: str | None
    starts_at: UtcTime
    ends_at: UtcTime
    reason: str
    author: str
    created_at: UtcTime
    ended_by: str | None
    state: SilenceState
    conditions: list[LinkedCondition] = Field(default_factory=list)
    """What fired during the window (recorded, no ticket) and what became of it."""
