"""The soak benchmark's smoke run: ~20 s of a live feed at a low rate through a real Steward.
It completes and accounts for every message, incident and webhook. Accounting only, never a
timing nor a memory figure (those belong to bench/)."""

from __future__ import annotations

import pytest

from bench.broker import find_binary
from bench.soak import ok_of, run_soak, smoke_params
from tests.services import require_service

pytestmark = [pytest.mark.mosquitto, pytest.mark.timeout(60)]


def test_smoke_run_accounts_for_everything() -> None:
    if find_binary("mosquitto") is None:
        require_service("mosquitto", "not installed (apt-get install mosquitto)")
    params = smoke_params()

    result = run_soak(params)

    accounting = result["accounting"]
    assert result["criteria"]["completed"]
    assert accounting["ok"], accounting["problems"]
    assert ok_of(result)
    assert accounting["published"] > 0
    assert accounting["unaccounted"] == 0
    assert accounting["processed"] == accounting["accepted"] + accounting["rejected"]
    assert accounting["rejected_by_reason"] == accounting["planted_by_reason"]
    assert accounting["incidents_started"] == params.incidents
    assert accounting["resolved"] == accounting["incidents_cleared"] == params.incidents
    assert result["webhook"]["events"] == accounting["outbox_events"] > 0
    assert result["samples"]
