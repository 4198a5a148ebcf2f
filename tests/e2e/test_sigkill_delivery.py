"""``steward run`` killed with SIGKILL while webhooks are in flight, then started again, on
a Mosquitto of the test's own (no other test's traffic makes tickets) and the real database,
with its one webhook configured from the environment alone (``STEWARD_WEBHOOK_URL``,
``STEWARD_WEBHOOK_SECRET``) to a slow receiver on loopback: every ticket event arrives at
least once, a duplicate is the same message (``webhook-id`` and body), each ticket's events
arrive in order, and every signature verifies with an independent Standard Webhooks
implementation."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from steward.clock import SystemClock
from tests.delivery.helpers import SECRET, outbox
from tests.delivery.receiver import Received, Receiver, Reply
from tests.delivery.standard_webhooks import verify
from tests.e2e.harness import TRAPPED
from tests.e2e.test_sigkill_restart import Service
from tests.mqtt_helpers import Publisher, unique, wait_for
from tests.services import PrivateMosquitto, free_port
from tickets.db import make_engine, session_factory
from tickets.service import TicketService

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow, pytest.mark.timeout(120)]

LIFTS = 12
ACTIONS = ("acknowledge", "start")
"""After the ``opened`` event, each ticket gets one event per action: three in order."""
EVENTS = LIFTS * (1 + len(ACTIONS))
RECEIVER_DELAY_S = 0.25
"""Every answer takes this long, so that requests are in flight when the kill comes."""
KILLED = threading.Event()
"""Set at the kill. Until then, requests after the first quarter are held unanswered: on a
loaded machine the test's own requests can be slow enough for every event to be delivered
before the kill otherwise."""


def held_until_the_kill(_request: Received, number: int) -> Reply:
    if number >= EVENTS // 4:
        KILLED.wait(30)
    return Reply(200, delay_s=RECEIVER_DELAY_S)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    KILLED.clear()
    server.script = held_until_the_kill
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def service(
    database_url: str, private_broker: PrivateMosquitto, receiver: Receiver, tmp_path: Path
) -> Iterator[tuple[Service, str]]:
    site = unique("killdel")
    devices = "".join(
        f"          - {{id: lift-{i}, kind: elevator}}\n" for i in range(1, LIFTS + 1)
    )
    config = tmp_path / "site.yaml"
    config.write_text(
        # no night rule: an emergency opened at night (22:00-08:00 by default, and the test
        # may run then) would also send an ``escalated`` event
        f"sites:\n  - id: {site}\n    escalation: {{night: null}}\n"
        f"    buildings:\n      - id: b1\n        devices:\n{devices}"
    )
    env = {
        **os.environ,
        "STEWARD_MQTT_URL": private_broker.url,
        "STEWARD_DATABASE_URL": database_url,
        "STEWARD_SITE_CONFIG": str(config),
        "STEWARD_HTTP_PORT": str(free_port()),
        "STEWARD_MQTT_CLIENT_ID": unique("steward-killdel"),
        "STEWARD_MQTT_TICKET_EVENTS": "false",
        "STEWARD_TICK_INTERVAL_S": "0.1",
        "STEWARD_TELEMETRY_PATH": str(tmp_path / "telemetry.db"),
        "STEWARD_WEBHOOK_URL": receiver.url,
        "STEWARD_WEBHOOK_SECRET": SECRET,
        "STEWARD_DELIVERY_POLL_INTERVAL_S": "0.05",
    }
    for name in ("STEWARD_ADMIN_API_KEY", "STEWARD_INTEGRATIONS_CONFIG"):
        env.pop(name, None)
    svc = Service(env, tmp_path / "steward.log")
    try:
        yield svc, site
    finally:
        svc.stop()


def test_sigkill_during_delivery_loses_nothing_and_repeats_only_the_same_message(
    service: tuple[Service, str],
    receiver: Receiver,
    database_url: str,
    private_broker: PrivateMosquitto,
) -> None:
    svc, site = service
    api = f"http://127.0.0.1:{svc.port}/api/v1"
    publisher = Publisher(private_broker.url)
    db = make_engine(database_url)
    tickets = TicketService(session_factory(db), SystemClock())

    def numbers() -> list[str]:
        response = httpx.get(f"{api}/tickets", params={"site": site, "limit": 100}, timeout=5)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    try:
        svc.start()
        now = time.time()
        for i in range(1, LIFTS + 1):  # the controller reports a trapped passenger: a ticket
            publisher.publish(
                f"estate/{site}/elevator/lift-{i}/telemetry",
                {"ts": int(now * 1000), "seq": 1, **TRAPPED, "fault_codes": ["11"]},
            )
        wait_for(lambda: len(numbers()) == LIFTS, what=f"{LIFTS} entrapment tickets")
        for action in ACTIONS:
            for number in numbers():
                response = httpx.post(
                    f"{api}/tickets/{number}/{action}", json={"actor": "duty"}, timeout=5
                )
                assert response.status_code == 200, response.text
        assert len(outbox(tickets)) == EVENTS

        wait_for(
            lambda: len(receiver.received) >= EVENTS // 4 and receiver.busy(),
            timeout=30,
            what="deliveries in flight",
        )
        svc.kill()
        KILLED.set()
        cut = len(receiver.received)
        assert cut < EVENTS, "everything was delivered before the kill"

        svc.start()
        wait_for(
            lambda: len(set(receiver.ids())) >= EVENTS,
            timeout=60,
            what="every event after the restart",
        )
        events = outbox(tickets)
    finally:
        publisher.close()
        db.dispose()
    by_id = {e.event_id: e for e in events}
    assert len(by_id) == EVENTS
    received = receiver.ids()
    assert set(received) == set(by_id)  # every event, and nothing else

    checked_at = time.time()
    bodies: dict[str, set[bytes]] = defaultdict(set)
    first_seen: dict[str, list[str]] = defaultdict(list)
    for request in receiver.received:
        verify(SECRET, request.headers, request.body, now=checked_at)
        event = by_id[request.webhook_id]
        assert json.loads(request.body) == event.payload
        bodies[request.webhook_id].add(request.body)
        ticket = json.loads(request.body)["subject"]
        assert ticket == event.ticket
        if request.webhook_id not in first_seen[ticket]:
            first_seen[ticket].append(request.webhook_id)
    assert all(len(b) == 1 for b in bodies.values())  # a duplicate is the same message
    duplicates = {i for i in received if received.count(i) > 1}
    assert duplicates, "the request in flight at the kill is sent again"

    expected: dict[str, list[str]] = defaultdict(list)
    for event in events:
        expected[event.ticket].append(event.event_id)
    assert first_seen == expected  # in order per ticket
    assert all(len(ids) == 1 + len(ACTIONS) for ids in expected.values())
