"""``bench/telemetry_sink.py --smoke`` accounts for every reading (timings are not checked:
benchmarks are never timed tests)."""

from __future__ import annotations

import pytest

from bench import telemetry_sink
from tests.services import require_service
from tests.telemetry.helpers import victoria_metrics_binary


def test_smoke_run_accounts_for_every_reading(capsys: pytest.CaptureFixture[str]) -> None:
    if victoria_metrics_binary() is None:
        require_service("VictoriaMetrics", "binary not found (apt-get install victoria-metrics)")
    assert telemetry_sink.main(["--smoke", "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "influxdb-client vs raw POST" in out
    assert "ACCOUNTING" not in out
