"""PostgreSQL goes away while alarms keep arriving, and comes back: the service says it is not
ready meanwhile, recovers by itself, and every ticket and outbox event exists exactly once.

A private cluster (tests/services.py ``PrivatePostgres``) is stopped with ``pg_ctl stop -m
fast`` (or ``-m immediate``) while the first third of a stream of elevator alarms is still
being committed; the second third arrives during the outage (the writer keeps those decisions
and their QoS 1 acks, retrying); the cluster restarts and the last third streams in. A second
test hangs the server (SIGSTOP) instead of stopping it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Row, Select, func, select

from api.app import create_app
from delivery.config import ENV_ENDPOINT, MQTT_ENDPOINT
from delivery.models import Delivery, DeliveryStatus
from gateway.topics import DeviceRef, Kind, telemetry_topic
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tests import services
from tests.delivery.receiver import Receiver
from tests.e2e.harness import TRAPPED
from tests.mqtt_helpers import Publisher, forget_session, unique, wait_for
from tests.services import PrivateMosquitto, PrivatePostgres
from tickets.db import PING_TIMEOUT_S, make_engine
from tickets.models import OutboxEvent, Ticket
from tickets.outbox import EventType

pytestmark = [pytest.mark.mosquitto, pytest.mark.postgres, pytest.mark.slow]

CARS = 90
PACE_S = 0.02
"""Between two alarms: the stream is still flowing when the database stops."""
OUTAGE_S = 3.0
"""At least this long away: several of the writer's retries, dozens of failed sweeps."""


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as cluster:
        yield cluster


@dataclass
class AlarmStream:
    """One alarm per car (passenger trapped, alarm pressed: ``elevator.alarm_button`` fires
    at once), published at QoS 1 in three thirds; each later third waits for its gate."""

    publisher: Publisher
    site: str
    gates: dict[int, threading.Event] = field(default_factory=dict)
    published: int = 0
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.gates = {CARS // 3: threading.Event(), 2 * CARS // 3: threading.Event()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alarm-stream", daemon=True)

    def car(self, i: int) -> DeviceRef:
        return DeviceRef(self.site, Kind.ELEVATOR, f"car-{i:03d}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for gate in self.gates.values():
            gate.set()
        self._thread.join(30)

    def _run(self) -> None:
        try:
            for i in range(CARS):
                if i in self.gates:
                    self.gates[i].wait()
                if self._stop.is_set():
                    return
                press_alarm(self.publisher, self.car(i), i)
                self.published = i + 1
                time.sleep(PACE_S)  # the pace of the stream, not a wait for a condition
        except BaseException as exc:  # reported by the test, not lost in this thread
            self.error = exc


def press_alarm(publisher: Publisher, car: DeviceRef, i: int) -> None:
    body = {"ts": 1_700_000_000_000 + i, "seq": 1, **TRAPPED, "alarm": True}
    publisher.publish(telemetry_topic(car), body).wait_for_publish(10)


def test_without_initdb_and_pg_ctl_ci_fails_rather_than_skips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "postgres_bin_dir", lambda: None)
    monkeypatch.setattr(services, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        PrivatePostgres()
    monkeypatch.setattr(services, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        PrivatePostgres()


def readyz(api: TestClient) -> tuple[int, dict[str, bool], float]:
    started = time.monotonic()
    response = api.get("/readyz")
    return response.status_code, response.json()["checks"], time.monotonic() - started


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_mid_stream_loses_and_duplicates_nothing(
    private_postgres: PrivatePostgres, private_broker: PrivateMosquitto, mode: str
) -> None:
    """``fast``: clients are disconnected, the server shuts down cleanly; ``immediate``: a
    crash, the restart replays the WAL. A broker of its own: the webhook receives every event
    this Steward makes, and retained messages left on a shared broker (another site's status
    topics) would make events of their own."""
    mosquitto_url = private_broker.url
    site, client_id = unique("pgfault"), unique("gw")
    receiver = Receiver().start()
    settings = Settings(
        mqtt_url=mosquitto_url,
        database_url=private_postgres.url,
        mqtt_client_id=client_id,
        tick_interval_s=0.05,
        webhook_url=receiver.url,
        delivery_poll_interval_s=0.05,
    )
    publisher = Publisher(mosquitto_url)
    stream = AlarmStream(publisher, site)
    steward = Steward(settings, clock=FakeClock())  # simulated time stands still: only alarms
    try:
        with steward, TestClient(create_app(steward)) as api:
            wait_for(lambda: steward.gateway.connected, what="gateway connected")
            assert readyz(api)[:2] == (200, {"broker": True, "database": True})
            stream.start()

            # -- the database stops while the first third is still streaming in --------
            wait_for(lambda: steward.writer.stats.decisions >= 10, what="first tickets")
            private_postgres.stop(mode)
            down_at = time.monotonic()
            committed_before = steward.writer.stats.decisions
            published_before = stream.published  # the rest of the first third: still coming
            stream.gates[CARS // 3].set()

            statuses: list[tuple[int, dict[str, bool], float]] = []

            def not_ready() -> bool:
                statuses.append(readyz(api))
                return statuses[-1][0] == 503

            wait_for(not_ready, timeout=10, what="/readyz 503 while the database is away")
            _, checks, took = statuses[-1]
            assert checks == {"broker": True, "database": False}
            assert took < 2.0, f"/readyz took {took:.2f}s with the database away"
            assert api.get("/healthz").status_code == 200  # alive, only not ready

            sweeps_failed = steward.sweeper.stats.failures
            wait_for(
                lambda: (
                    time.monotonic() - down_at >= OUTAGE_S
                    and stream.published >= 2 * CARS // 3
                    and steward.writer.stats.failures >= 4
                    and steward.sweeper.stats.failures > sweeps_failed
                    and sum(steward.delivery.stats.errors.values()) > 0
                ),
                timeout=30,
                what="the outage: the second third published, writer/sweeper/dispatcher failing",
            )
            assert readyz(api)[0] == 503
            assert steward.writer.stats.decisions == committed_before  # nothing while away
            outage_s = time.monotonic() - down_at
            private_postgres.start()
            up_at = time.monotonic()
            stream.gates[2 * CARS // 3].set()

            # -- it recovers by itself -----------------------------------------------
            wait_for(lambda: readyz(api)[0] == 200, timeout=30, what="ready again")
            ready_after_s = time.monotonic() - up_at
            wait_for(lambda: stream.published == CARS, timeout=60, what="the whole stream")
            assert stream.error is None
            wait_for(
                lambda: steward.writer.stats.decisions >= CARS and steward.writer.flush(0),
                timeout=60,
                what="every alarm committed",
            )

            events = outbox(private_postgres.url, site)
            wait_for(
                lambda: set(receiver.ids()) >= {e for e, _, _ in events},
                timeout=60,
                what="every event at the webhook",
            )
            threads = {
                "sweeper": steward.sweeper._thread,
                **{t.name: t for t in steward.delivery._threads},
            }
            sweeps_after = steward.sweeper.stats.sweeps
            wait_for(
                lambda: steward.sweeper.stats.sweeps > sweeps_after,
                what="the sweeper sweeping again",
            )
            assert all(t is not None and t.is_alive() for t in threads.values()), threads
    finally:
        stream.stop()
        publisher.close()
        receiver.stop()
        forget_session(mosquitto_url, client_id)

    tickets = tickets_by_device(private_postgres.url, site)
    assert sorted(tickets) == sorted(stream.car(i).device for i in range(CARS))
    assert all(rules == ["elevator.alarm_button"] for rules in tickets.values()), tickets
    events = outbox(private_postgres.url, site)
    assert Counter(t for _, t, _ in events) == {EventType.OPENED.value: CARS}
    assert len({e for e, _, _ in events}) == CARS
    assert sorted(n for _, _, n in events) == sorted(ticket_numbers(private_postgres.url, site))
    received = receiver.ids()
    assert set(received) == {e for e, _, _ in events}
    duplicates = len(received) - len(set(received))
    deliveries = delivered(private_postgres.url, [e for e, _, _ in events])
    assert deliveries == {ENV_ENDPOINT: CARS, MQTT_ENDPOINT: CARS}, deliveries
    print(
        f"\n{mode}: {CARS} alarms, {published_before} published and {committed_before} committed "
        f"at the stop; database away "
        f"{outage_s:.1f}s; ready {ready_after_s:.2f}s after it was back; "
        f"{len(events)} outbox events, {len(received)} webhook requests "
        f"({duplicates} repeated webhook-ids); writer retries {steward.writer.stats.failures}, "
        f"failed sweeps {steward.sweeper.stats.failures}, "
        f"dispatcher passes failed {sum(steward.delivery.stats.errors.values())}"
    )


def fetch(url: str, statement: Select[Any]) -> list[Row[Any]]:
    """Rows from the cluster through an engine of the test's own (closed again)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(statement).all())
    finally:
        engine.dispose()


def tickets_by_device(url: str, site: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for device, rule in fetch(url, select(Ticket.device, Ticket.rule).where(Ticket.site == site)):
        found.setdefault(str(device), []).append(str(rule))
    return found


def ticket_numbers(url: str, site: str) -> list[str]:
    return [str(n) for (n,) in fetch(url, select(Ticket.number).where(Ticket.site == site))]


def outbox(url: str, site: str) -> list[tuple[str, str, str]]:
    """(event id, type, ticket number) of every outbox event of the site."""
    rows = fetch(
        url,
        select(OutboxEvent.event_id, OutboxEvent.type, Ticket.number)
        .join(Ticket, Ticket.id == OutboxEvent.ticket_id)
        .where(OutboxEvent.site == site),
    )
    return [(str(e), str(t), str(n)) for e, t, n in rows]


def delivered(url: str, event_ids: list[str]) -> dict[str, int]:
    """Delivered rows per endpoint for these events (one row per endpoint and event)."""
    rows = fetch(
        url,
        select(Delivery.endpoint, func.count())
        .where(Delivery.event_id.in_(event_ids))
        .where(Delivery.status == DeliveryStatus.DELIVERED.value)
        .group_by(Delivery.endpoint),
    )
    return {str(endpoint): int(count) for endpoint, count in rows}


def test_a_hung_database_is_not_ready_within_the_probe_timeout(
    private_postgres: PrivatePostgres, mosquitto_url: str
) -> None:
    """Every process of the cluster stopped (SIGSTOP): connections hang instead of failing.
    /readyz still answers, 503, within the probe's timeout; when the server wakes up the
    alarms that came in meanwhile become tickets, once each."""
    site, client_id = unique("pghang"), unique("gw")
    cars = [DeviceRef(site, Kind.ELEVATOR, f"car-{i}") for i in range(10)]
    settings = Settings(
        mqtt_url=mosquitto_url,
        database_url=private_postgres.url,
        mqtt_client_id=client_id,
        tick_interval_s=0.05,
    )
    publisher = Publisher(mosquitto_url)
    steward = Steward(settings, clock=FakeClock())
    try:
        with steward, TestClient(create_app(steward)) as api:
            wait_for(lambda: steward.gateway.connected, what="gateway connected")
            for i, car in enumerate(cars[:5]):
                press_alarm(publisher, car, i)
            wait_for(lambda: steward.writer.stats.decisions >= 5, what="first tickets")
            assert readyz(api)[0] == 200
            private_postgres.pause()
            try:
                for i, car in enumerate(cars[5:], start=5):
                    press_alarm(publisher, car, i)
                code, checks, took = readyz(api)
                assert (code, checks) == (503, {"broker": True, "database": False})
                assert PING_TIMEOUT_S <= took < PING_TIMEOUT_S + 1.5, took
                code, _, took = readyz(api)  # the first probe still hangs: no second one
                assert code == 503
                assert took < 0.5, took
            finally:
                private_postgres.resume()
            wait_for(lambda: readyz(api)[0] == 200, timeout=30, what="ready again")
            wait_for(
                lambda: steward.writer.stats.decisions >= len(cars) and steward.writer.flush(0),
                timeout=30,
                what="every alarm committed",
            )
    finally:
        publisher.close()
        forget_session(mosquitto_url, client_id)
    tickets = tickets_by_device(private_postgres.url, site)
    assert tickets == {car.device: ["elevator.alarm_button"] for car in cars}
    events = outbox(private_postgres.url, site)
    assert Counter(t for _, t, _ in events) == {EventType.OPENED.value: len(cars)}
