"""The shipped broker configuration (deploy/mosquitto) on a real Mosquitto: a device may
publish its own telemetry and status and nothing else, anonymous clients and wrong passwords
are refused, Steward reads every device and publishes ticket events. Only the port and file
locations are adapted, and the test adds one account of its own, ``observer``, that reads
everything (to see what got through); the password file is made with ``mosquitto_passwd``
as start.sh does."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from steward.paho import release_sockets
from tests.mqtt_helpers import wait_for
from tests.services import free_port, mosquitto_binary, require_service, wait_port

pytestmark = pytest.mark.mosquitto

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "mosquitto"
CAR_A, CAR_B = "maple-court/elevator/car-a", "maple-court/elevator/car-b"
ACCOUNTS = {
    "steward": "pw-steward",
    CAR_A: "pw-a",
    CAR_B: "pw-b",
    "simulator": "pw-sim",
    "observer": "pw-observer",
}
OBSERVER_ACL = "\n# test only: sees everything that got through\nuser observer\ntopic read #\n"


@dataclass
class Broker:
    port: int
    process: subprocess.Popen[bytes]


def adapted_config(workdir: Path, port: int, passwd: Path) -> str:
    """The shipped mosquitto.conf with this test's port and paths; every other line as is."""
    replaced = {
        "listener": f"listener {port} 127.0.0.1",
        "password_file": f"password_file {passwd}",
        "acl_file": f"acl_file {workdir / 'acl'}",
        "persistence_location": f"persistence_location {workdir}/",
        "log_dest": "log_dest none",
    }
    seen = set()
    lines = ["user root"] if os.geteuid() == 0 else []  # else it drops to user 'mosquitto'
    for line in (SHIPPED / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in replaced:
            seen.add(key)
            lines.append(replaced[key])
        else:
            lines.append(line)
    assert seen == set(replaced), f"shipped config lacks {set(replaced) - seen}"
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    binary, passwd_tool = mosquitto_binary(), shutil.which("mosquitto_passwd")
    if binary is None or passwd_tool is None:
        require_service("mosquitto", "mosquitto and mosquitto_passwd are needed")
        raise AssertionError  # unreachable: require_service fails or skips
    workdir = tmp_path_factory.mktemp("acl-broker")
    passwd = workdir / "passwd"
    passwd.write_text("".join(f"{user}:{password}\n" for user, password in ACCOUNTS.items()))
    passwd.chmod(0o600)
    subprocess.run([passwd_tool, "-U", str(passwd)], check=True)  # as start.sh does
    assert "pw-a" not in passwd.read_text()
    port = free_port()
    (workdir / "acl").write_text((SHIPPED / "acl").read_text() + OBSERVER_ACL)
    config = workdir / "mosquitto.conf"
    config.write_text(adapted_config(workdir, port, passwd))
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port("127.0.0.1", port)
        yield Broker(port, process)
    finally:
        process.kill()
        process.wait(10)


@dataclass
class Client:
    client: mqtt.Client
    connack: list[ReasonCode] = field(default_factory=list)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def topics(self) -> list[str]:
        with self.lock:
            return [t for t, _ in self.received]


def connect(
    broker: Broker, user: str | None, password: str | None = None, subscribe: str | None = None
) -> Client:
    """Connected (CONNACK received); with ``subscribe``, also subscribed (SUBACK received)."""
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{uuid.uuid4().hex[:8]}")
    state = Client(paho)
    subscribed = threading.Event()
    if user is not None:
        paho.username_pw_set(user, password)

    def on_connect(*args: object) -> None:
        state.connack.append(args[3])  # type: ignore[arg-type]

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with state.lock:
            state.received.append((msg.topic, bytes(msg.payload)))

    paho.on_connect = on_connect
    paho.on_message = on_message
    paho.on_subscribe = lambda *_: subscribed.set()
    paho.connect("127.0.0.1", broker.port)
    paho.loop_start()
    wait_for(lambda: bool(state.connack), timeout=10, what=f"CONNACK for {user}")
    if subscribe is not None and not state.connack[0].is_failure:
        paho.subscribe(subscribe, 1)
        assert subscribed.wait(10), f"SUBACK for {user}"
    return state


def close(*clients: Client) -> None:
    for c in clients:
        c.client.disconnect()
        c.client.loop_stop()
        release_sockets(c.client)


@pytest.fixture
def observer(broker: Broker) -> Iterator[Client]:
    client = connect(broker, "observer", ACCOUNTS["observer"], subscribe="estate/#")
    yield client
    close(client)


@pytest.fixture
def steward(broker: Broker) -> Iterator[Client]:
    client = connect(broker, "steward", ACCOUNTS["steward"], subscribe="estate/#")
    assert not client.connack[0].is_failure
    yield client
    close(client)


def publish_then_marker(device: Client, topic: str, marker_topic: str) -> None:
    """Publish to ``topic``, then to ``marker_topic`` on the same connection (QoS 1 keeps
    the order): once the marker has arrived, ``topic`` has arrived or never will."""
    device.client.publish(topic, b'{"probe": true}', qos=1).wait_for_publish(10)
    device.client.publish(marker_topic, b'{"marker": true}', qos=1).wait_for_publish(10)


def test_a_device_publishes_its_own_topics_only(broker: Broker, observer: Client) -> None:
    car_a = connect(broker, CAR_A, ACCOUNTS[CAR_A])
    try:
        assert not car_a.connack[0].is_failure
        own = f"estate/{CAR_A}/telemetry"
        publish_then_marker(car_a, f"estate/{CAR_B}/telemetry", own)  # another device's
        publish_then_marker(car_a, f"estate/{CAR_A}/extra", own)  # not a contract topic
        publish_then_marker(car_a, "estate/maple-court/tickets", own)  # Steward's to publish
        publish_then_marker(car_a, f"estate/{CAR_A}/status", own)
        wait_for(lambda: observer.topics().count(own) == 4, what="car A's own telemetry")
        assert observer.topics() == [own, own, own, f"estate/{CAR_A}/status", own]
    finally:
        close(car_a)


def test_steward_reads_every_device_and_publishes_tickets(
    broker: Broker, steward: Client, observer: Client
) -> None:
    car_a = connect(broker, CAR_A, ACCOUNTS[CAR_A])
    car_b = connect(broker, CAR_B, ACCOUNTS[CAR_B])
    try:
        for device, name in ((car_a, CAR_A), (car_b, CAR_B)):
            device.client.publish(f"estate/{name}/telemetry", b"{}", qos=1).wait_for_publish(10)
            device.client.publish(f"estate/{name}/status", b"online", qos=1).wait_for_publish(10)
        steward.client.publish("estate/maple-court/tickets", b"{}", qos=1).wait_for_publish(10)
        wait_for(lambda: "estate/maple-court/tickets" in observer.topics(), what="ticket event")
        wait_for(lambda: len(steward.topics()) == 4, what="both devices at Steward")
        assert sorted(steward.topics()) == sorted(
            f"estate/{n}/{c}" for n in (CAR_A, CAR_B) for c in ("telemetry", "status")
        )  # and not its own ticket events: it only writes those
    finally:
        close(car_a, car_b)


def test_devices_read_nothing(broker: Broker) -> None:
    listener = connect(broker, CAR_B, ACCOUNTS[CAR_B], subscribe="estate/#")
    car_b = connect(broker, CAR_B, ACCOUNTS[CAR_B])
    try:
        publish_then_marker(car_b, f"estate/{CAR_B}/telemetry", f"estate/{CAR_B}/status")
        probe = connect(broker, "observer", ACCOUNTS["observer"], subscribe="estate/#")
        try:  # the observer sees a message published after car B's, so car B's went through
            car_b.client.publish(f"estate/{CAR_B}/telemetry", b"{}", qos=1).wait_for_publish(10)
            wait_for(lambda: bool(probe.received), what="the observer's copy")
        finally:
            close(probe)
        assert listener.received == []  # not even its own topics
    finally:
        close(listener, car_b)


def test_anonymous_and_wrong_passwords_are_refused(broker: Broker) -> None:
    anonymous = connect(broker, None)
    wrong = connect(broker, CAR_A, "not-the-password")
    stolen = connect(broker, CAR_A, ACCOUNTS[CAR_B])  # another device's password
    try:
        for client in (anonymous, wrong, stolen):
            assert client.connack[0].is_failure
            assert "not authori" in str(client.connack[0]).lower()
    finally:
        close(anonymous, wrong, stolen)


def test_the_simulator_may_publish_for_any_device(broker: Broker, observer: Client) -> None:
    simulator = connect(broker, "simulator", ACCOUNTS["simulator"])
    try:
        for device in ("car-a", "car-b", "anything"):
            simulator.client.publish(
                f"estate/maple-court/elevator/{device}/telemetry", b"{}", qos=1
            ).wait_for_publish(10)
        wait_for(lambda: len(observer.topics()) == 3, what="the simulator's three messages")
    finally:
        close(simulator)
