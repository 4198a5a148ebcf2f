"""The scaling benchmark's smoke run: every point, each in its own process, accounts for every
message it publishes. Only accounting and completion are asserted, never a timing."""

from __future__ import annotations

import pytest

from bench.broker import find_binary
from bench.scaling import run
from tests.services import require_service

pytestmark = [pytest.mark.mosquitto, pytest.mark.timeout(90)]

POINTS = (100, 500)
MESSAGES = 1_000


@pytest.fixture(autouse=True)
def _mosquitto_installed() -> None:
    for binary in ("mosquitto", "mosquitto_sub"):
        if find_binary(binary) is None:
            require_service(binary, "not installed (apt-get install mosquitto mosquitto-clients)")


def test_every_point_accounts_for_every_message() -> None:
    result = run(POINTS, messages=MESSAGES, baseline_repeats=1, smoke=True)

    assert result["summary"]["ok"]
    points = result["points"]
    assert [p["devices"] for p in points] == list(POINTS)
    for point in points:
        accounting = point["accounting"]
        assert point["messages"] == MESSAGES  # the same count at every fleet size
        assert sum(point["devices_by_kind"].values()) == point["devices"]
        assert accounting["unaccounted"] == 0, accounting["problems"]
        assert accounting["ok"], accounting["problems"]
        assert point["finished"]
        assert point["steward_msg_per_s"] > 0
        assert point["baseline_msg_per_s"] > 0
        assert 0 < point["ratio"] < 10
    assert result["summary"]["rate_largest_over_smallest"] > 0
