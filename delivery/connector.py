"""What the dispatcher hands a connector, what it gets back, and the connector interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from delivery.policy import Outcome, Reason, classify, outcome_of

DETAIL_MAX = 2048


@dataclass(frozen=True, slots=True)
class Message:
    """One event on its way to one endpoint."""

    delivery_id: int
    event_id: str
    """Also the ``webhook-id``: the same on every retry, so receivers can deduplicate."""
    site: str
    event_type: str
    event: dict[str, Any]
    """The CloudEvent, as the outbox holds it."""


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: Outcome
    reason: Reason
    latency_ms: float
    status_code: int | None = None
    retry_after_s: float | None = None
    detail: str | None = None

    @classmethod
    def from_status(
        cls,
        status_code: int,
        *,
        latency_ms: float,
        retry_after_s: float | None = None,
        detail: str | None = None,
    ) -> AttemptResult:
        outcome, reason = classify(status_code)
        return cls(outcome, reason, latency_ms, status_code, retry_after_s, _clip(detail))

    @classmethod
    def from_error(cls, reason: Reason, *, latency_ms: float, detail: str) -> AttemptResult:
        return cls(outcome_of(reason), reason, latency_ms, detail=_clip(detail))


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:DETAIL_MAX]


class Connector(Protocol):
    """One kind of destination. ``send`` never raises for a delivery problem: it says what
    happened, with a reason; it returns within its own timeout."""

    kind: str

    def send(self, message: Message, *, now: float) -> AttemptResult: ...

    def start(self) -> None: ...

    def close(self) -> None: ...
