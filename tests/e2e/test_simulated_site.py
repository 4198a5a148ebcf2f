"""The simulators drive the real pipeline: simulated compound → Mosquitto → gateway → rules →
tickets → API, on one accelerated clock shared by both sides (30 simulated s per real s)."""

from __future__ import annotations

import pytest

from simulators.scenarios import scenario_publisher
from steward.clock import AcceleratedClock
from steward.site import StewardConfig, example_site_path, load_site_config
from tests.e2e.harness import running, settings, tickets
from tests.mqtt_helpers import forget_session, unique, wait_for

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]
FACTOR = 30.0


def site_config(site_id: str) -> StewardConfig:
    example = load_site_config(example_site_path())
    return example.model_copy(
        update={"sites": [example.sites[0].model_copy(update={"id": site_id})]}
    )


@pytest.mark.parametrize(
    ("scenario", "expected_rules"),
    [
        ("entrapment", {"elevator.alarm_button", "elevator.entrapment"}),
        ("alarm_at_landing", {"elevator.alarm_follow_up"}),  # the near miss: no emergency
        ("normal", set()),
    ],
)
def test_scenario_through_the_real_pipeline(
    mosquitto_url: str, tmp_path: object, scenario: str, expected_rules: set[str]
) -> None:
    site, client_id = unique("sim"), unique("gw")
    config = site_config(site)
    clock = AcceleratedClock(FACTOR)
    db = f"sqlite:///{tmp_path}/steward.db"
    try:
        with running(settings(mosquitto_url, db, client_id), clock, config) as (steward, api):
            sim = scenario_publisher(
                scenario,
                mosquitto_url,
                clock=clock,
                site_config=config,
                qos=1,
                status_on_stop="clear",
            )
            sim.run(duration_s=150.0)  # 5 s of wall time
            steward.writer.flush()
            wait_for(
                lambda: steward.decoder.accepted["elevator"] >= sim.stats.telemetry * 0.5,
                what="telemetry processed",
            )
            found = tickets(api, site=site)
            fired = {
                r
                for t in found
                for r in [
                    t["rule"],
                    *[
                        h["data"].get("rule")
                        for h in api.get(f"/api/v1/tickets/{t['id']}").json()["history"]
                    ],
                ]
                if r
            }
            if scenario == "entrapment":
                assert len(found) == 1, found
                assert found[0]["priority"] == "emergency"
                assert found[0]["location"] == "Building 1, car A"
            elif scenario == "alarm_at_landing":
                assert [t["priority"] for t in found] == ["general"]
            else:
                assert found == []
            assert expected_rules <= fired | {t["rule"] for t in found}
            # (the shared broker may carry other tests' traffic: judge this site's only)
            assert [r for r in steward.dead_letters.latest(1000) if f"/{site}/" in r.topic] == []
    finally:
        forget_session(mosquitto_url, client_id)
