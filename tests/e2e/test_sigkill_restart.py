"""``steward run`` killed with SIGKILL mid-dwell and started again, on the real broker and
database: open tickets intact and not duplicated, and an entrapment that began before the kill
fires counted from its real start, not from the first message after the restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.harness import TRAPPED
from tests.mqtt_helpers import Publisher, forget_session, unique, wait_for
from tests.services import free_port
from tickets.db import make_engine, session_factory
from tickets.models import RuleDwell, Ticket

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

ENTRAPMENT_S = 8
IDLE = {**TRAPPED, "door_zone": True, "occupied": False, "floor": 1}


class Service:
    """``steward run`` in a process of its own, as an operator starts it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.port = int(env["STEWARD_HTTP_PORT"])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "steward"), "run"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.ready, timeout=60, what=f"steward ready (log: {self.log})")

    def ready(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def service(
    database_url: str, mosquitto_url: str, tmp_path: Path
) -> Iterator[tuple[Service, str, str]]:
    site = unique("kill")
    config = tmp_path / "site.yaml"
    config.write_text(
        f"sites:\n  - id: {site}\n    buildings:\n      - id: b1\n        devices:\n"
        "          - {id: lift-1, kind: elevator}\n"
        "          - {id: lift-2, kind: elevator}\n"
        f"rules:\n  elevator: {{entrapment_s: {ENTRAPMENT_S}}}\n"
    )
    client_id = unique("steward-kill")
    env = {
        **os.environ,
        "STEWARD_MQTT_URL": mosquitto_url,
        "STEWARD_DATABASE_URL": database_url,
        "STEWARD_SITE_CONFIG": str(config),
        "STEWARD_HTTP_PORT": str(free_port()),
        "STEWARD_MQTT_CLIENT_ID": client_id,
        "STEWARD_MQTT_TICKET_EVENTS": "false",
        "STEWARD_TICK_INTERVAL_S": "0.1",
        "STEWARD_TELEMETRY_PATH": str(tmp_path / "telemetry.db"),
    }
    env.pop("STEWARD_ADMIN_API_KEY", None)
    svc = Service(env, tmp_path / "steward.log")
    try:
        yield svc, site, database_url
    finally:
        svc.stop()
        forget_session(mosquitto_url, client_id)


def reading(seq: int, at: float, **fields: Any) -> dict[str, Any]:
    return {"ts": int(at * 1000), "seq": seq, **fields}


def test_sigkill_mid_dwell_resumes_the_dwell_and_keeps_tickets(
    service: tuple[Service, str, str], mosquitto_url: str
) -> None:
    svc, site, database_url = service
    db = make_engine(database_url)
    sessions = session_factory(db)
    publisher = Publisher(mosquitto_url)

    def topic(device: str) -> str:
        return f"estate/{site}/elevator/{device}/telemetry"

    def tickets() -> list[Ticket]:
        with sessions() as session:
            return list(session.scalars(select(Ticket).where(Ticket.site == site)))

    def dwell_saved() -> bool:
        with sessions() as session:
            return session.scalar(select(RuleDwell).where(RuleDwell.site == site)) is not None

    try:
        svc.start()
        # lift-2: the controller reports a trapped passenger (code 11): a ticket at once
        seq = 0
        now = time.time()
        publisher.publish(topic("lift-2"), reading(seq, now, **TRAPPED, fault_codes=["11"]))
        wait_for(lambda: len(tickets()) == 1, what="lift-2's entrapment ticket")
        [before] = tickets()

        # lift-1 stops between floors with a passenger: the dwell starts at `stuck_at`
        publisher.publish(
            topic("lift-1"), reading(1, now, **{**IDLE, "moving": True, "door_zone": False})
        )
        stuck_at = time.time()
        publisher.publish(topic("lift-1"), reading(2, stuck_at, **TRAPPED))
        wait_for(dwell_saved, what="the dwell saved")
        svc.kill()
        killed_at = time.time()
        assert killed_at - stuck_at < ENTRAPMENT_S - 2, "too slow to kill mid-dwell"

        # down for a while: the devices go on publishing (QoS 1, queued by the broker)
        for seq in range(3, 6):
            time.sleep(0.5)
            at = time.time()
            publisher.publish(topic("lift-1"), reading(seq, at, **TRAPPED))
            publisher.publish(topic("lift-2"), reading(seq, at, **TRAPPED, fault_codes=["11"]))
        svc.start()
        restarted_at = time.time()

        def entrapment() -> Ticket | None:
            found = [t for t in tickets() if t.device == "lift-1"]
            return found[0] if found else None

        wait_for(lambda: entrapment() is not None, timeout=30, what="lift-1's entrapment")
        ticket = entrapment()
        assert ticket is not None
        since = datetime.fromisoformat(ticket.evidence["condition_since"]).timestamp()
        # counted from the stop before the kill, to the millisecond of the device's clock
        assert since == pytest.approx(int(stuck_at * 1000) / 1000, abs=0.001)
        assert since < killed_at < restarted_at
        assert ticket.evidence["held_s"] >= ENTRAPMENT_S

        # lift-2's ticket: still the one ticket, still open, its repeats counted on it
        after = [t for t in tickets() if t.device == "lift-2"]
        assert [(t.id, t.number, t.status) for t in after] == [
            (before.id, before.number, before.status)
        ]
        assert len(tickets()) == 2
    finally:
        publisher.close()
        db.dispose()
