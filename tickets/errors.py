"""Errors the ticket service raises, named by what went wrong so the API can map each one to
a status code (404, 409, 400) without looking at messages. The names are the ones the API
layer was promised, hence no ``Error`` suffix (N818)."""

from __future__ import annotations

from collections.abc import Sequence


class TicketError(Exception):
    """Base class: every error here is the caller's to handle, none is retryable as is."""


class TicketNotFound(TicketError):  # noqa: N818
    def __init__(self, number: str) -> None:
        super().__init__(f"no ticket {number!r}")
        self.number = number


class InvalidTransition(TicketError):  # noqa: N818
    """The action is not allowed in the ticket's current status (HTTP 409).

    ``allowed`` lists the actions that *are* allowed now, so a client can recover."""

    def __init__(
        self, *, status: str, action: str, allowed: Sequence[str], reason: str = ""
    ) -> None:
        detail = reason or f"cannot {action} a ticket that is {status}"
        super().__init__(f"{detail}; allowed now: {', '.join(allowed) or 'none'}")
        self.status = status
        self.action = action
        self.allowed = list(allowed)
        self.reason = detail


class Conflict(TicketError):  # noqa: N818
    """The request contradicts stored state, e.g. an idempotency key reused with another body."""


class InvalidRequest(TicketError):  # noqa: N818
    """A parameter the schema could not check is wrong (a bad limit, a naive datetime)."""


class BadCursor(InvalidRequest):
    """The pagination cursor was not one this service handed out."""


class NoteRequired(InvalidRequest):
    """The action needs a note (a progress update says what progressed)."""
