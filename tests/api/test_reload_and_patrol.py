"""Reloading the site file without a restart, and patrol compliance, through the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from gateway.payloads import PatrolTelemetry
from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from steward.cli import app as cli
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings

SITE = """
sites:
  - id: oak
    timezone: Asia/Shanghai
    buildings:
      - id: b1
        devices:
          - {{id: car-1, kind: elevator, location: "B1 car 1",
              params: {{last_maintenance: {maintained}}}}}
          - {{id: gate, kind: patrol, location: "B1 unit door",
              params: {{interval_min: 120, route: north}}}}
"""


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(maintained="2025-12-01"))
    return path


@pytest.fixture
def steward(tmp_path: Path, site_file: Path, clock: FakeClock) -> Iterator[Steward]:
    s = Steward(
        Settings(
            database_url=f"sqlite:///{tmp_path}/t.db",
            mqtt_url="mqtt://127.0.0.1:1",
            site_config=site_file,
        ),
        clock=clock,
    )
    yield s
    s.stop()


def run_ticks(steward: Steward) -> None:
    decisions = steward.engine.tick()
    if decisions:
        steward._apply(decisions)


def test_reload_clears_a_calendar_rule_and_keeps_tickets(steward: Steward, site_file: Path) -> None:
    with TestClient(create_app(steward)) as api:
        run_ticks(steward)  # 2026-01-01: maintained 2025-12-01, > 15 days ago
        [ticket] = api.get("/api/v1/tickets", params={"site": "oak"}).json()["items"]
        assert ticket["rule"] == "elevator.maintenance_overdue"
        assert ticket["status"] == "open"

        site_file.write_text("sites: [{id: oak, buildings: oops}]\n")
        bad = api.post("/api/v1/admin/reload-config")
        assert bad.status_code == 422
        assert any("buildings" in p for p in bad.json()["error"]["details"])
        assert len(steward.registry) == 2  # the last good configuration still runs

        site_file.write_text(SITE.format(maintained="2025-12-30"))
        ok = api.post("/api/v1/admin/reload-config")
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"status": "applied", "sites": 1, "devices": 2}
        run_ticks(steward)
        after = api.get(f"/api/v1/tickets/{ticket['id']}").json()
        assert after["status"] == "resolved"
        assert after["condition_cleared_at"] is not None


def test_patrol_compliance_per_checkpoint_route_and_shift(
    steward: Steward, clock: FakeClock
) -> None:
    gate = DeviceRef("oak", Kind.PATROL, "gate")

    def scan() -> None:
        now = clock.now()
        t = PatrolTelemetry.model_validate({"ts": int(now * 1000), "guard_id": "g1"})
        steward._apply(steward.engine.on_reading(Reading(gate, t, now, now)))

    with TestClient(create_app(steward)) as api:
        for _ in range(3):  # on time: every 2 h
            clock.advance(7200)
            scan()
        clock.advance(3 * 3600)  # past 2 h 24 min: missed
        run_ticks(steward)
        clock.advance(600)
        scan()  # late
        report = api.get("/api/v1/patrol/compliance", params={"site": "oak"}).json()
        [checkpoint] = report["checkpoints"]
        assert (checkpoint["on_time"], checkpoint["late"], checkpoint["missed"]) == (3, 1, 1)
        assert checkpoint["compliance_pct"] == 60.0
        assert report["routes"]["north"]["missed"] == 1
        assert sum(s["on_time"] for s in report["shifts"].values()) == 3
        missed = api.get("/api/v1/tickets", params={"rule": "patrol.missed_checkpoint"})
        assert [t["status"] for t in missed.json()["items"]] == ["resolved"]  # scanned again


def test_check_config_rejects_unknown_rule_overrides(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("rules:\n  overrides:\n    elevator.no_such_rule: {priority: general}\n")
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 1
    assert "elevator.no_such_rule" in result.output
