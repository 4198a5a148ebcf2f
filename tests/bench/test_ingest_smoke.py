"""The ingest benchmark's smoke run, in-process: it must account for every message it
publishes. Only the accounting is asserted, never a timing (timings belong to bench/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.broker import find_binary
from bench.ingest import SMOKE_DEVICES, SMOKE_MESSAGES, Params, run_ingest
from tests.services import require_service

pytestmark = [pytest.mark.mosquitto, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def _mosquitto_installed() -> None:
    for binary in ("mosquitto", "mosquitto_sub"):
        if find_binary(binary) is None:
            require_service(binary, "not installed (apt-get install mosquitto mosquitto-clients)")


@pytest.mark.parametrize("qos", [0, 1])
def test_smoke_run_accounts_for_every_message(qos: int, tmp_path: Path) -> None:
    params = Params(
        devices=SMOKE_DEVICES,
        messages=SMOKE_MESSAGES,
        qos=qos,
        rounds=1,
        baseline_repeats=1,
        smoke=True,
        floor=False,
    )

    result = run_ingest(params, workdir=tmp_path)

    stream = result.stream
    assert stream.total == SMOKE_MESSAGES
    assert stream.malformed > 0
    assert set(stream.valid_by_kind) == {"elevator", "water_pressure", "extinguisher", "patrol"}
    (only,) = result.rounds
    accounting = only.accounting
    assert accounting.unaccounted == 0, accounting.problems
    assert accounting.accepted == stream.valid
    assert accounting.rejected_by_reason == stream.malformed_by_reason
    assert only.baseline.consumed == stream.total
    assert accounting.ok, accounting.problems
