"""The delivery policy: one status table for every integration, backoff over ≥ 24 h."""

from __future__ import annotations

import itertools
import random
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from delivery.policy import Outcome, Reason, RetryPolicy, classify, retry_after_seconds, settle
from steward.clock import as_datetime

NOW = 1_767_225_600.0


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [
        (200, Outcome.DELIVERED, Reason.OK),
        (204, Outcome.DELIVERED, Reason.OK),
        (299, Outcome.DELIVERED, Reason.OK),
        (500, Outcome.RETRY, Reason.HTTP_5XX),
        (503, Outcome.RETRY, Reason.HTTP_5XX),
        (429, Outcome.RETRY, Reason.HTTP_429),
        (408, Outcome.RETRY, Reason.HTTP_408),
        (410, Outcome.GONE, Reason.GONE),
        (400, Outcome.FAILED, Reason.HTTP_4XX),
        (401, Outcome.FAILED, Reason.HTTP_4XX),
        (404, Outcome.FAILED, Reason.HTTP_4XX),
        (301, Outcome.FAILED, Reason.HTTP_3XX),
        (100, Outcome.FAILED, Reason.HTTP_OTHER),
    ],
)
def test_one_status_table(status: int, outcome: Outcome, reason: Reason) -> None:
    assert classify(status) == (outcome, reason)


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after_seconds("120", NOW) == 120.0
    assert retry_after_seconds(format_datetime(as_datetime(NOW + 90), usegmt=True), NOW) == 90.0
    assert retry_after_seconds(format_datetime(as_datetime(NOW - 90), usegmt=True), NOW) == 0.0
    for junk in (None, "", "soon", "-5", "1.5"):
        assert retry_after_seconds(junk, NOW) is None


def _schedule(policy: RetryPolicy, seed: int) -> list[float]:
    """Attempt times of an event whose receiver never answers."""
    rng = random.Random(seed)
    now, failures, since = NOW, 0, None
    times = [now]
    while True:
        settled = settle(
            Outcome.RETRY,
            Reason.CONNECT_ERROR,
            failures=failures,
            retry_since=since,
            retry_after=None,
            now=now,
            policy=policy,
            rng=rng,
        )
        if settled.status == "failed":
            assert settled.reason is Reason.RETRIES_EXHAUSTED
            return times
        assert settled.next_attempt_at >= now
        assert settled.next_attempt_at - now <= policy.cap_s
        now, failures, since = settled.next_attempt_at, settled.failures, settled.retry_since
        times.append(now)


@given(st.integers(min_value=0, max_value=10_000))
def test_retries_go_on_for_at_least_the_window_then_stop(seed: int) -> None:
    policy = RetryPolicy()
    times = _schedule(policy, seed)
    assert times[-1] - times[0] >= 24 * 3600
    assert times[-1] - times[0] <= 24 * 3600 + policy.cap_s
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps[:4]) <= 5 * 2**4  # the first retries come quickly
    assert len(times) < 200


def test_retry_after_is_a_floor_and_success_and_failure_settle() -> None:
    rng = random.Random(1)
    policy = RetryPolicy()
    later = settle(
        Outcome.RETRY,
        Reason.HTTP_429,
        failures=0,
        retry_since=None,
        retry_after=600.0,
        now=NOW,
        policy=policy,
        rng=rng,
    )
    assert later.status == "pending"
    assert later.next_attempt_at >= NOW + 600
    assert later.retry_since == NOW
    absurd = settle(
        Outcome.RETRY,
        Reason.HTTP_429,
        failures=0,
        retry_since=None,
        retry_after=10**9,
        now=NOW,
        policy=policy,
        rng=rng,
    )
    assert absurd.next_attempt_at <= NOW + policy.max_retry_after_s
    done = settle(
        Outcome.DELIVERED,
        Reason.OK,
        failures=3,
        retry_since=NOW - 50,
        retry_after=None,
        now=NOW,
        policy=policy,
        rng=rng,
    )
    assert (done.status, done.failures) == ("delivered", 3)
    for outcome in (Outcome.FAILED, Outcome.GONE):
        assert (
            settle(
                outcome,
                Reason.HTTP_4XX,
                failures=0,
                retry_since=None,
                retry_after=None,
                now=NOW,
                policy=policy,
                rng=rng,
            ).status
            == "failed"
        )
