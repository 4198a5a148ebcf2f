"""The delivery-latency benchmark's smoke run, on SQLite and PostgreSQL: every ticket's event
reaches the loopback receiver, exactly once. Accounting only, never a timing (timings belong
to bench/)."""

from __future__ import annotations

import pytest

from bench import delivery_latency
from bench.delivery_latency import SMOKE_RATE, SMOKE_TICKETS

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("wake", [True, False], ids=["wake", "poll"])
def test_smoke_run_delivers_every_event_once(database_url: str, wake: bool) -> None:
    result = delivery_latency.run(
        database_url, tickets=SMOKE_TICKETS, rate=SMOKE_RATE, poll_s=0.2, wake=wake, wait_s=15
    )

    accounting = result["accounting"]
    assert accounting["ok"], accounting["problems"]
    assert result["events"] == SMOKE_TICKETS
    assert result["delivered"] == SMOKE_TICKETS
    assert result["requests"] == SMOKE_TICKETS
    assert (accounting["missing"], accounting["unexpected"], accounting["duplicates"]) == (0, 0, 0)
    assert all(result[k] is not None for k in ("p50_ms", "p99_ms", "max_ms"))


def test_smoke_command_line_exits_0_and_reports_the_accounting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert delivery_latency.main(["--smoke", "--wake"]) == 0
    out = capsys.readouterr().out
    assert f"{SMOKE_TICKETS} tickets" in out
    assert f"delivered {SMOKE_TICKETS}/{SMOKE_TICKETS}" in out
    assert "accounting: OK" in out


def test_the_accounting_fails_on_what_did_not_arrive_once() -> None:
    receipts = delivery_latency._Receipts()
    receipts.at = {"a": 1.0, "c": 1.0}
    receipts.requests = 3
    accounting = delivery_latency._accounting(2, {"a": 0.0, "b": 0.0}, receipts)
    assert not accounting["ok"]
    assert (accounting["missing"], accounting["unexpected"], accounting["duplicates"]) == (1, 1, 1)
