"""One delivery policy for every connector, as pure functions of their inputs and ``now``.

- ``classify``: what an HTTP status means (2xx delivered; 408, 429 and 5xx retry; 410 gone,
  which disables the endpoint; any other status failed, with the response kept in the log).
- ``next_attempt``: exponential backoff with full jitter, never sooner than a ``Retry-After``,
  until the retry window (24 h by default) since the first failure has passed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from gateway.mqtt import backoff_delay


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    GONE = "gone"
    """Failed, and the receiver asked us to stop: the endpoint is disabled."""


class Reason(StrEnum):
    """Why an attempt ended as it did: the label errors are counted by."""

    OK = "ok"
    HTTP_5XX = "http_5xx"
    HTTP_429 = "http_429"
    HTTP_408 = "http_408"
    HTTP_4XX = "http_4xx"
    HTTP_3XX = "http_3xx"
    HTTP_OTHER = "http_other"
    GONE = "http_410"
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    NETWORK_ERROR = "network_error"
    TEMPLATE_ERROR = "template_error"
    BROKER_UNAVAILABLE = "broker_unavailable"
    RETRIES_EXHAUSTED = "retries_exhausted"
    INTERNAL_ERROR = "internal_error"


RETRYABLE_REASONS = frozenset(
    {
        Reason.HTTP_5XX,
        Reason.HTTP_429,
        Reason.HTTP_408,
        Reason.TIMEOUT,
        Reason.CONNECT_ERROR,
        Reason.NETWORK_ERROR,
        Reason.BROKER_UNAVAILABLE,
    }
)
OUTAGE_REASONS = frozenset(RETRYABLE_REASONS - {Reason.HTTP_429})
"""Failures that say the receiver was away rather than busy: once it answers again, what
waits behind them is tried at once (a 429 keeps its own schedule)."""


def classify(status_code: int) -> tuple[Outcome, Reason]:
    if 200 <= status_code < 300:
        return Outcome.DELIVERED, Reason.OK
    if status_code == 410:
        return Outcome.GONE, Reason.GONE
    if status_code == 429:
        return Outcome.RETRY, Reason.HTTP_429
    if status_code == 408:  # the receiver timed out reading us: a timeout, so retried
        return Outcome.RETRY, Reason.HTTP_408
    if 500 <= status_code < 600:
        return Outcome.RETRY, Reason.HTTP_5XX
    if 400 <= status_code < 500:
        return Outcome.FAILED, Reason.HTTP_4XX
    if 300 <= status_code < 400:  # redirects are not followed: the URL needs fixing
        return Outcome.FAILED, Reason.HTTP_3XX
    return Outcome.FAILED, Reason.HTTP_OTHER


def outcome_of(reason: Reason) -> Outcome:
    """For attempts that ended without an HTTP status (transport errors, templates)."""
    return Outcome.RETRY if reason in RETRYABLE_REASONS else Outcome.FAILED


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date (RFC 9110)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when: datetime = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 5.0
    cap_s: float = 3600.0
    window_s: float = 24 * 3600.0
    """Keep retrying for this long after the first failure, then give up (``failed``)."""
    max_retry_after_s: float = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class NextStep:
    retry_at: float | None
    """When to try again; ``None``: give up (``retries_exhausted``)."""


def next_attempt(
    policy: RetryPolicy,
    *,
    failures: int,
    retry_since: float,
    now: float,
    retry_after: float | None,
    rng: random.Random,
) -> NextStep:
    """After the ``failures``-th failed try (1 for the first) of a retryable attempt."""
    if now - retry_since >= policy.window_s:
        return NextStep(None)
    delay = backoff_delay(failures - 1, base=policy.base_s, cap=policy.cap_s, rng=rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_retry_after_s))
    return NextStep(now + delay)


@dataclass(frozen=True, slots=True)
class Settlement:
    """What one attempt leaves in the delivery's row."""

    status: str
    """``pending``, ``delivered`` or ``failed`` (``DeliveryStatus`` values)."""
    reason: Reason
    failures: int
    next_attempt_at: float
    retry_since: float | None


def settle(
    outcome: Outcome,
    reason: Reason,
    *,
    failures: int,
    retry_since: float | None,
    retry_after: float | None,
    now: float,
    policy: RetryPolicy,
    rng: random.Random,
) -> Settlement:
    if outcome is Outcome.DELIVERED:
        return Settlement("delivered", reason, failures, now, retry_since)
    if outcome is not Outcome.RETRY:
        return Settlement("failed", reason, failures + 1, now, retry_since)
    since = now if retry_since is None else retry_since
    step = next_attempt(
        policy,
        failures=failures + 1,
        retry_since=since,
        now=now,
        retry_after=retry_after,
        rng=rng,
    )
    if step.retry_at is None:
        return Settlement("failed", Reason.RETRIES_EXHAUSTED, failures + 1, now, since)
    return Settlement("pending", reason, failures + 1, step.retry_at, since)
