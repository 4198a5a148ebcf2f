"""The sweeper thread: sweeps on its interval, survives failures, stops when told."""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

import pytest
from sqlalchemy.exc import OperationalError

from steward.clock import FakeClock
from tests.tickets.helpers import fire
from tickets.schemas import TicketView
from tickets.service import TicketService
from tickets.sweeper import Sweeper


class FlakyService:
    """Fails ``failures`` times, then sweeps (and says so through ``swept``)."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.swept = threading.Event()

    def sweep(self) -> list[TicketView]:
        if self.failures:
            self.failures -= 1
            raise self.error
        self.swept.set()
        return []


def sweeper_for(service: Any, interval_s: float = 1.0) -> Sweeper:
    return Sweeper(cast(TicketService, service), interval_s=interval_s)


def test_one_sweep_counts_what_it_changed(service: TicketService, clock: FakeClock) -> None:
    service.apply(decisions=[fire(clock)])
    sweeper = Sweeper(service)
    clock.advance(16 * 60)  # the 15-minute response is missed
    assert sweeper.run_once() == 1
    assert (sweeper.stats.sweeps, sweeper.stats.changed, sweeper.stats.failures) == (1, 1, 0)
    assert sweeper.run_once() == 0


def test_a_failing_database_is_logged_once_counted_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = FlakyService(3, OperationalError("SELECT 1", {}, Exception("server closed")))
    sweeper = sweeper_for(flaky)
    with caplog.at_level(logging.WARNING, logger="steward.sweeper"):
        assert [sweeper.run_once() for _ in range(4)] == [0, 0, 0, 0]
    assert (sweeper.stats.failures, sweeper.stats.sweeps) == (3, 1)
    assert "server closed" in sweeper.stats.last_error
    assert len(caplog.records) == 1  # the same reason is not logged again


def test_an_unexpected_error_does_not_stop_the_clock(caplog: pytest.LogCaptureFixture) -> None:
    sweeper = sweeper_for(FlakyService(1, RuntimeError("bug")))
    with caplog.at_level(logging.ERROR, logger="steward.sweeper"):
        assert sweeper.run_once() == 0
    assert sweeper.run_once() == 0
    assert (sweeper.stats.failures, sweeper.stats.sweeps) == (1, 1)
    assert "bug" in caplog.text


def test_the_thread_sweeps_until_stopped() -> None:
    flaky = FlakyService(1, RuntimeError("first tick fails"))
    sweeper = sweeper_for(flaky, interval_s=0.001)
    sweeper.start()
    try:
        assert flaky.swept.wait(5.0)
    finally:
        sweeper.stop()
    assert sweeper.stats.failures == 1
    assert sweeper.stats.sweeps >= 1
    assert not any(t.name == "steward-sweeper" for t in threading.enumerate())


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        sweeper_for(FlakyService(0, RuntimeError()), interval_s=0)
