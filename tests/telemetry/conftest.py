"""Fixtures for telemetry tests: a VictoriaMetrics of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.telemetry.helpers import PrivateVictoriaMetrics


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[PrivateVictoriaMetrics]:
    server = PrivateVictoriaMetrics(tmp_path / "victoria-metrics")
    server.start()
    try:
        yield server
    finally:
        server.kill()
