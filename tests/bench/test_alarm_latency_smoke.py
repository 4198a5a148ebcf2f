"""The alarm-latency benchmark's smoke run: a few alarm presses and entrapments under a light
background feed. Every alarm opens exactly one ticket, which reaches the SSE stream and the
webhook exactly once. Accounting only, never a timing (timings belong to bench/)."""

from __future__ import annotations

import pytest

from bench.alarm_latency import run_alarm_latency, smoke_params
from bench.broker import find_binary
from tests.services import require_service

pytestmark = [pytest.mark.mosquitto, pytest.mark.timeout(90)]


def test_smoke_run_every_alarm_opens_one_ticket() -> None:
    if find_binary("mosquitto") is None:
        require_service("mosquitto", "not installed (apt-get install mosquitto)")
    params = smoke_params()

    result = run_alarm_latency(params)

    assert result["accounting"]["ok"], result["accounting"]["problems"]
    alarms = result["alarms"]
    assert len(alarms) == params.alarms + params.entrapments
    rules = {a["kind"]: a["rule"] for a in alarms}
    assert rules == {"alarm": "elevator.alarm_button", "entrapment": "elevator.entrapment"}
    for alarm in alarms:
        for stage in ("committed_ms", "sse_ms", "webhook_ms"):
            assert alarm[stage] is not None, (alarm["device"], stage)
    assert result["other_tickets_opened"] == 0
    assert result["feed"]["published"] > 0
