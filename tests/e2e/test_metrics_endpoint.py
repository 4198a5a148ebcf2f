"""/metrics after real traffic through Mosquitto: messages in, rejected by reason, rule
evaluation time and tickets opened (issue 2's list). The other tests only check that
``steward_mqtt_messages_total`` and ``steward_tickets_opened_total`` are named on the page."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.topics import DeviceRef, Kind, telemetry_topic
from steward.clock import FakeClock
from tests.e2e.harness import TRAPPED, running, settings, tickets
from tests.mqtt_helpers import Publisher, unique, wait_for
from tests.services import PrivateMosquitto

pytestmark = pytest.mark.mosquitto


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_messages_rejections_rule_time_and_tickets(
    private_broker: PrivateMosquitto, tmp_path: Path
) -> None:
    """A private broker: the shared one carries other tests' malformed traffic."""
    clock = FakeClock()
    site = unique("metrics")
    car = DeviceRef(site, Kind.ELEVATOR, "car-1")
    topic = telemetry_topic(car)
    now_ms = int(clock.now() * 1000)
    good = [(topic, orjson.dumps({"ts": now_ms, "seq": i, **TRAPPED})) for i in range(4)]
    bad = [
        *[(topic, b"{oops")] * 3,
        *[(topic, b'{"ts": 1, "floor": "x"}')] * 2,
        (f"estate/{site}/toaster/t-1/telemetry", b"{}"),
        good[0],  # a repeated seq
    ]
    s = settings(private_broker.url, f"sqlite:///{tmp_path}/steward.db", unique("gw"))
    with running(s, clock) as (steward, api):
        pub = Publisher(private_broker.url)
        try:
            pub.publish_all([*good, *bad])
        finally:
            pub.close()
        wait_for(
            lambda: (
                sum(steward.decoder.accepted.values()) == 4
                and sum(steward.decoder.rejected.values()) == 7
            ),
            what="every message counted",
        )
        clock.advance(31)  # the car has been stuck for 31 s: an entrapment ticket
        wait_for(lambda: len(tickets(api, site=site)) == 1, what="ticket")
        steward.writer.flush()
        page = api.get("/metrics")
    assert page.status_code == 200
    m = samples(page.text)
    assert m[("steward_mqtt_messages_total", (("outcome", "accepted"),))] == 4
    assert m[("steward_mqtt_messages_total", (("outcome", "rejected"),))] == 7
    rejected = {
        labels[0][1]: value
        for (name, labels), value in m.items()
        if name == "steward_messages_rejected_total"
    }
    assert rejected == {"not_json": 3, "schema": 2, "unknown_kind": 1, "duplicate_seq": 1}
    assert m[("steward_rule_evaluation_seconds_count", ())] >= 4
    assert m[("steward_rule_evaluation_seconds_sum", ())] > 0
    opened = ("steward_tickets_opened_total", (("priority", "emergency"), ("source", "rule")))
    assert m[opened] == 1
