"""The gateway against real Mosquitto: mixed good and bad traffic, persistent sessions,
broker restarts. Rules run for real; decisions are collected instead of committed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.decode import DeadLetters, Decoder, Reason
from gateway.mqtt import Ack, BrokerAddress, MqttGateway
from rules.decision import Decision
from rules.engine import RulesEngine
from steward.clock import SystemClock
from steward.settings import mqtt_address
from steward.site import DeviceRegistry, RulesConfig, StewardConfig
from tests.mqtt_helpers import Publisher, forget_session, unique, wait_for
from tests.services import PrivateMosquitto

pytestmark = pytest.mark.mosquitto

IDLE = {
    "floor": 2,
    "moving": False,
    "direction": "none",
    "door": "closed",
    "door_zone": True,
    "occupied": False,
    "alarm": False,
    "mode": "normal",
}


class Harness:
    def __init__(self, url: str, client_id: str, dead_letter_size: int = 100) -> None:
        self.url = url
        self.client_id = client_id
        self.clock = SystemClock()
        self.decisions: list[Decision] = []
        registry = DeviceRegistry(StewardConfig())
        self.decoder = Decoder(registry)
        self.engine = RulesEngine(registry, RulesConfig(), self.clock)
        self.dead_letters = DeadLetters(dead_letter_size)
        self.gateway = self._gateway()

    def _gateway(self) -> MqttGateway:
        host, port, _, _ = mqtt_address(self.url)
        return MqttGateway(
            broker=BrokerAddress(host, port),
            client_id=self.client_id,
            decoder=self.decoder,
            engine=self.engine,
            dead_letters=self.dead_letters,
            on_decisions=self._collect,
            clock=self.clock,
            tick_interval_s=0.05,
        )

    def _collect(self, decisions: list[Decision], ack: Ack | None) -> None:
        self.decisions.extend(decisions)
        if ack is not None:
            ack()

    def restart(self) -> None:
        self.gateway.stop()
        self.gateway = self._gateway()
        self.gateway.start()

    def rules_fired(self, site: str) -> list[tuple[str, str]]:
        return [(d.ref.device, d.rule) for d in self.decisions if d.ref.site == site]


@pytest.fixture
def harness(private_broker: PrivateMosquitto) -> Iterator[Harness]:
    """A gateway on a broker of its own: the shared broker's default queue limit (1000
    messages per client) would drop QoS 1 bursts, which is the broker's policy, not ours."""
    h = Harness(private_broker.url, unique("gw"))
    h.gateway.start()
    wait_for(lambda: h.gateway.connected, what="gateway connected")
    yield h
    h.gateway.stop()
    forget_session(private_broker.url, h.client_id)


def elevator(site: str, device: str, seq: int, **fields: Any) -> tuple[str, bytes]:
    body = orjson.dumps({"ts": int(SystemClock().now() * 1000), "seq": seq, **IDLE, **fields})
    return f"estate/{site}/elevator/{device}/telemetry", body


def malformed(site: str, i: int) -> tuple[tuple[str, bytes], Reason]:
    kinds: list[tuple[tuple[str, bytes], Reason]] = [
        ((f"estate/{site}/elevator/bad-{i}/telemetry", b"{oops"), Reason.NOT_JSON),
        ((f"estate/{site}/elevator/bad-{i}/telemetry", b'{"ts": 1, "floor": "x"}'), Reason.SCHEMA),
        ((f"estate/{site}/toaster/bad-{i}/telemetry", b"{}"), Reason.UNKNOWN_KIND),
        ((f"estate/{site}/elevator/BAD_{i}/telemetry", b"{}"), Reason.BAD_ID),
        ((f"estate/{site}/elevator/bad-{i}/telemetry", b"[" * 70_000), Reason.TOO_LARGE),
        (
            (
                f"estate/{site}/water_pressure/bad-{i}/telemetry",
                b'{"ts": 1767225600000, "pressure_mpa": NaN}',
            ),
            Reason.SCHEMA,
        ),
    ]
    return kinds[i % len(kinds)]


def test_malformed_messages_mixed_into_valid_traffic(harness: Harness) -> None:
    site = unique("mix")
    valid = [elevator(site, f"e{d}", seq) for seq in range(40) for d in range(50)]
    bad_with_reason = [malformed(site, i) for i in range(1000)]
    expected: dict[Reason, int] = {}
    for _, reason in bad_with_reason:
        expected[reason] = expected.get(reason, 0) + 1
    # bad messages at random places; each device's valid readings stay in seq order
    rng = random.Random(7)
    slots = sorted(rng.randrange(len(valid) + 1) for _ in bad_with_reason)
    traffic: list[tuple[str, bytes]] = []
    v = 0
    for slot, (msg, _) in zip(slots, bad_with_reason, strict=True):
        traffic += valid[v:slot]
        v = max(v, slot)
        traffic.append(msg)
    traffic += valid[v:]
    # duplicates: replay the first 10 valid messages after everything else
    traffic += valid[:10]
    expected[Reason.DUPLICATE_SEQ] = 10

    def handled() -> int:
        return harness.decoder.accepted["elevator"] + sum(harness.decoder.rejected.values())

    pub = Publisher(harness.url)
    try:
        pub.publish_all(traffic)
        wait_for(lambda: handled() >= len(traffic), what="all messages processed")
    finally:
        pub.close()

    assert harness.decoder.accepted["elevator"] == len(valid)
    assert dict(harness.decoder.rejected) == expected
    assert len(harness.dead_letters.latest(1000)) == 100  # bounded
    assert harness.gateway.connected
    assert len(harness.engine.devices) >= 50
    # still alive and processing after the storm
    pub = Publisher(harness.url)
    pub.publish_all([elevator(site, "after", 1, alarm=True, door="closed")])
    pub.close()
    wait_for(lambda: ("after", "elevator.alarm_button") in harness.rules_fired(site))


def test_qos1_alarms_published_while_gateway_is_down_arrive_after_it_reconnects(
    harness: Harness,
) -> None:
    site = unique("away")
    harness.gateway.stop()  # persistent session stays on the broker
    pub = Publisher(harness.url)
    pub.publish_all([elevator(site, f"car{i}", 1, alarm=True) for i in range(20)])
    pub.close()
    harness.restart()
    wait_for(lambda: len(harness.rules_fired(site)) == 20, what="20 alarms")
    assert sorted(harness.rules_fired(site)) == sorted(
        (f"car{i}", "elevator.alarm_button") for i in range(20)
    )


def test_broker_restart_gateway_reconnects_and_loses_no_qos1_message(
    private_broker: PrivateMosquitto,
) -> None:
    h = Harness(private_broker.url, "steward-gateway-restart-test")
    h.gateway.start()
    wait_for(lambda: h.gateway.connected, what="connected")
    site = unique("restart")
    try:
        pub = Publisher(private_broker.url)
        pub.publish_all([elevator(site, f"pre{i}", 1, alarm=True) for i in range(5)])
        pub.close()
        wait_for(lambda: len(h.rules_fired(site)) == 5, what="alarms before restart")

        private_broker.stop()  # SIGTERM: Mosquitto saves the gateway's session
        wait_for(lambda: not h.gateway.connected, what="gateway notices")
        private_broker.start()
        pub = Publisher(private_broker.url)  # publish before the gateway is back
        pub.publish_all([elevator(site, f"post{i}", 1, alarm=True) for i in range(50)])
        pub.close()
        wait_for(lambda: len(h.rules_fired(site)) == 55, timeout=40, what="all 55 alarms")
        assert h.gateway.stats.connects >= 2
        assert len(set(h.rules_fired(site))) == 55
    finally:
        h.gateway.stop()


def test_flooding_device_is_rate_limited_and_others_are_untouched(harness: Harness) -> None:
    site = unique("flood")
    flood = [elevator(site, "noisy", seq) for seq in range(3000)]
    normal = [elevator(site, f"quiet{d}", seq) for seq in range(5) for d in range(40)]
    traffic = [m for pair in zip(flood[:200], normal, strict=True) for m in pair] + flood[200:]

    def handled() -> int:
        return harness.decoder.accepted["elevator"] + sum(harness.decoder.rejected.values())

    pub = Publisher(harness.url)
    try:
        pub.publish_all(traffic)
        wait_for(lambda: handled() >= len(traffic), what="all messages handled")
    finally:
        pub.close()
    limited = harness.decoder.rejected[Reason.RATE_LIMITED]
    assert limited > 0
    assert harness.decoder.accepted["elevator"] == len(traffic) - limited
    assert set(harness.decoder.rejected) == {Reason.RATE_LIMITED}
    quiet = [k for k in harness.engine.devices if "/quiet" in k]
    assert len(quiet) == 40
    assert all(harness.engine.devices[k].reading is not None for k in quiet)
    assert harness.decoder.last_seq[f"{site}/quiet0"] == 4  # every quiet reading got through
    misbehaving = [r for r in harness.rules_fired(site) if r[1] == "device.misbehaving"]
    assert misbehaving == [("noisy", "device.misbehaving")]  # one ticket, not one per drop
    assert harness.dead_letters.latest() == []  # a flood does not wash out the dead letters


def _open_fds() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def test_stopped_gateway_leaves_no_socket_open(private_broker: PrivateMosquitto) -> None:
    """paho keeps a wake-up socket pair it closes only when the client is finalised; the
    gateway's callbacks hold the client in a cycle, so without an explicit release the sockets
    wait for the garbage collector (a ResourceWarning, once an error under CI's -W error)."""
    before = _open_fds()
    for _ in range(3):
        h = Harness(private_broker.url, unique("gw"))
        gateway = h.gateway
        gateway.start()
        wait_for(lambda: gateway.connected, what="gateway connected")  # noqa: B023
        gateway.stop()
        forget_session(private_broker.url, h.client_id)
    assert _open_fds() == before
