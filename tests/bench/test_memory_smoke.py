"""The memory benchmark's smoke run: every step's child process tracks and feeds every device,
the tracemalloc run names Steward's code, and the figures are positive and plausible. Never a
timing, never the 2 KiB target."""

from __future__ import annotations

import pytest

from bench.memory import READINGS_PER_DEVICE, run
from bench.stream import bench_site_config
from gateway.topics import Kind

pytestmark = pytest.mark.timeout(60)

STEPS = (0, 500)


def test_smoke_run_tracks_and_feeds_every_device() -> None:
    result = run(STEPS, trace_devices=200)

    assert result["summary"]["ok"], result["summary"]["problems"]
    empty, step = result["steps"]
    assert empty["devices"] == 0
    assert step["devices"] == 500
    config = bench_site_config(500)
    patrol = sum(
        d.kind is Kind.PATROL for site in config.sites for b in site.buildings for d in b.devices
    )
    # every device reports, a patrol checkpoint once (one scan a round)
    assert step["sent"] == (500 - patrol) * READINGS_PER_DEVICE + patrol
    assert step["readings"] == step["sent"]
    assert step["rejected"] == 0
    assert step["tracked"] == step["with_reading"] == 500
    assert 10 * 1024 < step["baseline_kib"] < 1024 * 1024  # an empty Python with Steward's core
    assert 0.1 < step["kib_per_device"] < 64
    assert step["registry_kib"] > 0
    assert step["state_kib_per_device"] > 0
    assert [(s["from"], s["to"]) for s in result["slopes"]] == [(0, 500)]

    traced = result["trace"]
    assert traced["registry_bytes_per_device"] > 0
    assert traced["state_bytes_per_device"] > 0
    state_sites = [entry["where"] for entry in traced["state_top"]]
    assert any(where.startswith(("rules/", "gateway/")) for where in state_sites), state_sites
