"""MQTT → gateway → rules → ticket → API, on real Mosquitto and on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.topics import DeviceRef, Kind, status_topic, telemetry_topic
from steward.clock import FakeClock
from tests.e2e.harness import TRAPPED, running, settings, tickets
from tests.mqtt_helpers import Publisher, forget_session, unique, wait_for

pytestmark = pytest.mark.mosquitto


def test_entrapment_becomes_one_emergency_ticket_in_the_api(
    mosquitto_url: str, database_url: str
) -> None:
    clock = FakeClock()
    site, client_id = unique("e2e"), unique("gw")
    car = DeviceRef(site, Kind.ELEVATOR, "car-1")
    pub = Publisher(mosquitto_url)
    try:
        with running(settings(mosquitto_url, database_url, client_id), clock) as (steward, api):
            for i in range(5):  # reported every few seconds while stuck
                pub.publish(
                    telemetry_topic(car), {"ts": int(clock.now() * 1000), "seq": i, **TRAPPED}
                ).wait_for_publish()
                wait_for(lambda: steward.decoder.last_seq.get(car.key) == i)  # noqa: B023
                clock.advance(5)
            assert tickets(api, site=site) == []  # 20 s held: not yet
            clock.advance(11)  # 31 s: the timer fires on a tick, no message needed
            wait_for(lambda: len(tickets(api, site=site)) == 1, what="ticket in the API")
            steward.writer.flush()

            [ticket] = tickets(api, site=site)
            assert ticket["rule"] == "elevator.entrapment"
            assert ticket["priority"] == "emergency"
            assert ticket["status"] == "open"
            assert ticket["category"] == "facility"
            detail = api.get(f"/api/v1/tickets/{ticket['id']}").json()
            opened_at = datetime.fromisoformat(detail["opened_at"])
            respond_by = datetime.fromisoformat(detail["respond_by"])
            onsite_by = datetime.fromisoformat(detail["onsite_by"])
            assert (respond_by - opened_at).total_seconds() == 15 * 60
            assert (onsite_by - opened_at).total_seconds() == 30 * 60
            assert detail["evidence"]["reading"]["door_zone"] is False
            assert detail["evidence"]["held_s"] >= 30
            # the readings behind the evidence, from the telemetry store
            assert detail["readings_url"].startswith(f"/api/v1/devices/{site}/car-1/telemetry?")
            steward.telemetry.flush()
            readings = api.get(detail["readings_url"])
            assert readings.status_code == 200, readings.text
            assert "door_zone" in readings.text

            # the passenger presses the alarm: same incident, an occurrence, not a ticket
            pub.publish(
                telemetry_topic(car),
                {"ts": int(clock.now() * 1000), "seq": 10, **TRAPPED, "alarm": True},
            ).wait_for_publish()
            wait_for(
                lambda: api.get(f"/api/v1/tickets/{ticket['id']}").json()["occurrences"] == 2,
                what="occurrence",
            )
            assert len(tickets(api, site=site)) == 1

            alerts = [a for a in api.get("/api/v1/alerts").json() if a["site"] == site]
            assert {a["rule"] for a in alerts} == {"elevator.entrapment", "elevator.alarm_button"}
            assert all(a["ticket"] == ticket["id"] for a in alerts)

            device = api.get(f"/api/v1/devices/{site}/car-1").json()
            assert device["open_tickets"] == [ticket["id"]]
            assert device["last_reading"]["alarm"] is True

            ack = api.post(
                f"/api/v1/tickets/{ticket['id']}/acknowledge",
                json={"actor": "duty-manager", "note": "rescue dispatched"},
            )
            assert ack.status_code == 200, ack.text
            assert ack.json()["owner"] == "duty-manager"
            bad = api.post(f"/api/v1/tickets/{ticket['id']}/close", json={"actor": "x"})
            assert bad.status_code == 409
            assert "resolve" in bad.json()["error"]["details"]["allowed"]

            # device goes offline (its Last Will): a general ticket of its own
            pub.publish(status_topic(car), b"offline", retain=False).wait_for_publish()
            wait_for(lambda: any(t["rule"] == "device.offline" for t in tickets(api, site=site)))

            metrics = api.get("/metrics").text
            assert 'steward_tickets_opened_total{priority="emergency",source="rule"}' in metrics
            assert api.get("/readyz").status_code == 200
    finally:
        pub.close()
        forget_session(mosquitto_url, client_id)


def test_restart_with_the_condition_still_present_keeps_exactly_one_ticket(
    mosquitto_url: str, database_url: str
) -> None:
    clock = FakeClock()
    site, client_id = unique("restart"), unique("gw")
    car = DeviceRef(site, Kind.ELEVATOR, "car-9")
    s = settings(mosquitto_url, database_url, client_id)
    pub = Publisher(mosquitto_url)
    seq = 0

    def report(**fields: object) -> None:
        nonlocal seq
        seq += 1
        pub.publish(
            telemetry_topic(car), {"ts": int(clock.now() * 1000), "seq": seq, **TRAPPED, **fields}
        ).wait_for_publish()

    try:
        with running(s, clock) as (steward, api):
            report()
            wait_for(lambda: car.key in steward.engine.devices)
            clock.advance(31)
            wait_for(lambda: len(tickets(api, site=site)) == 1, what="first ticket")
        with running(s, clock) as (steward, api):
            for _ in range(3):  # still stuck after the restart, still reporting
                report()
                clock.advance(40)
            wait_for(lambda: steward.decoder.last_seq.get(car.key) == seq)
            clock.advance(60)
            steward.writer.flush()
            tickets_after_restart = tickets(api, site=site)
            assert len(tickets_after_restart) == 1
            number = tickets_after_restart[0]["id"]
            # the rescue ends it: the car levels and opens; the ticket records the clearing
            report(door_zone=True, door="open")
            wait_for(
                lambda: (
                    api.get(f"/api/v1/tickets/{number}").json()["condition_cleared_at"] is not None
                ),
                what="condition cleared",
            )
            assert api.get(f"/api/v1/tickets/{number}").json()["status"] == "open"
    finally:
        pub.close()
        forget_session(mosquitto_url, client_id)
