"""Parameter types that several routes share."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator, WithJsonSchema

from gateway.topics import ID_PATTERN
from tickets.models import MAX_ROW_ID
from tickets.schemas import RULE_ID_PATTERN

IdFilter = Annotated[str | None, Query(pattern=ID_PATTERN.pattern, max_length=63)]
"""A site or device id to filter by: ids look like this everywhere (contract §1), and a value
that could not be one (a NUL, which PostgreSQL text cannot even hold) is a 422, not a query."""
RuleFilter = Annotated[str | None, Query(pattern=RULE_ID_PATTERN, max_length=100)]
TicketNumberFilter = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]+$", max_length=32)]

EARLIEST_S = datetime(1, 1, 1, tzinfo=UTC).timestamp()
LATEST_S = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def _epoch_seconds(value: Any) -> Any:
    """A number is seconds since the epoch, however JSON spells it (``1.5e9`` too); anything
    else is left to pydantic, which takes RFC 3339. Pydantic alone would read a number over
    2e10 as milliseconds and refuse ``1.5e9``."""
    if not isinstance(value, str):
        return value
    try:
        seconds = float(value)
    except ValueError:
        return value
    if not (math.isfinite(seconds) and EARLIEST_S <= seconds <= LATEST_S):
        raise ValueError(f"epoch seconds must lie between {EARLIEST_S:.0f} and {LATEST_S:.0f}")
    return datetime.fromtimestamp(seconds, UTC)


Instant = Annotated[
    datetime,
    BeforeValidator(_epoch_seconds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "number", "minimum": EARLIEST_S, "maximum": LATEST_S},
            ],
            "description": "RFC 3339 with an offset, or epoch seconds",
        }
    ),
]
"""A point in time in a query: RFC 3339 (an offset is required, else 400) or epoch seconds."""

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, examples=[1])]
"""A silence, key or delivery by its id."""
