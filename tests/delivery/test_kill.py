"""SIGKILL during delivery, then a restart: nothing is lost (at least once), and what is
sent twice carries the same ``webhook-id`` and body, so the receiver can drop it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from steward.clock import FakeClock
from tests.delivery.helpers import dispatcher, open_ticket, outbox, webhook_route
from tests.delivery.receiver import Receiver, Reply, always
from tests.mqtt_helpers import wait_for
from tickets.lifecycle import TicketAction
from tickets.service import TicketService

ROOT = Path(__file__).resolve().parents[2]
TICKETS = 40


def spawn(database_url: str, url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.delivery.worker_process", database_url, url],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_killed_mid_delivery_and_restarted_loses_nothing(
    database_url: str,
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    receiver.script = always(Reply(200, delay_s=0.05))  # slow enough to be caught mid-request
    dispatcher(sessions, clock, webhook_route(receiver.url)).stop()  # the endpoint exists now
    for i in range(TICKETS):
        number = open_ticket(service, clock, f"lift-{i}")
        service.act(number=number, action=TicketAction.ACKNOWLEDGE, actor="a")
    events = outbox(service)
    log = tmp_path / "worker.log"
    first = spawn(database_url, receiver.url, log)
    try:
        wait_for(lambda: len(receiver.received) >= 20 and receiver.busy(), what="mid-delivery")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        cut = len(receiver.received)
        assert cut < len(events)
        second = spawn(database_url, receiver.url, log)
        try:
            wait_for(
                lambda: set(receiver.ids()) >= {e.event_id for e in events},
                timeout=60,
                what="every event after the restart",
            )
        finally:
            second.kill()
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    received = receiver.ids()
    assert set(received) == {e.event_id for e in events}
    duplicates = {i for i in received if received.count(i) > 1}
    assert duplicates, "the request in flight at the kill is sent again"
    bodies: dict[str, set[bytes]] = defaultdict(set)
    first_seen: dict[str, list[str]] = defaultdict(list)
    for request in receiver.received:
        bodies[request.webhook_id].add(request.body)
        ticket = json.loads(request.body)["subject"]
        if request.webhook_id not in first_seen[ticket]:
            first_seen[ticket].append(request.webhook_id)
    assert all(len(b) == 1 for b in bodies.values())  # a duplicate is the same message
    expected: dict[str, list[str]] = defaultdict(list)
    for event in events:
        expected[event.ticket].append(event.event_id)
    assert first_seen == expected
