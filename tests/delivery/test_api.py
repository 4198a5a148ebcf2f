"""The delivery log over HTTP: endpoints and health, deliveries with attempts, replay, enable;
errors in the one error shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tests.delivery.helpers import dispatcher, drain, open_ticket, webhook_route
from tests.delivery.receiver import Received, Receiver, Reply


@pytest.fixture
def steward(database_url: str, clock: FakeClock) -> Iterator[Steward]:
    # the test's own dispatcher is the only one: no MQTT ticket-event endpoint of Steward's
    settings = Settings(
        database_url=database_url, mqtt_url="mqtt://127.0.0.1:1", mqtt_ticket_events=False
    )
    running = Steward(settings, clock=clock)
    try:
        yield running
    finally:
        running.stop()


def test_the_delivery_log_and_its_levers(
    steward: Steward, clock: FakeClock, receiver: Receiver
) -> None:
    rejected: list[bytes] = []

    def script(request: Received, _n: int) -> Reply:
        if b'"subject":"ST-000001"' in request.body and not rejected:
            rejected.append(request.body)
            return Reply(422, b"missing title")
        return Reply()

    receiver.script = script
    with (
        dispatcher(steward.sessions, clock, webhook_route(receiver.url)) as d,
        TestClient(create_app(steward)) as client,
    ):
        first = open_ticket(steward.tickets, clock, "lift-1")
        open_ticket(steward.tickets, clock, "lift-2")
        drain(d)

        [health] = client.get("/api/v1/deliveries/endpoints").json()
        assert health["name"] == "hook"
        assert health["target"] == receiver.url
        assert (health["state"], health["delivered"], health["failed"]) == ("healthy", 1, 1)
        assert health["latency_ms_p50"] > 0

        failed = client.get("/api/v1/deliveries", params={"status": "failed"}).json()["items"]
        assert [(f["ticket"], f["last_status_code"]) for f in failed] == [(first, 422)]
        [attempt] = failed[0]["history"]
        assert attempt["detail"] == "missing title"
        assert attempt["reason"] == "http_4xx"
        assert attempt["worker"] == d.worker

        per_event = client.get("/api/v1/deliveries", params={"event_id": failed[0]["event_id"]})
        assert [v["id"] for v in per_event.json()["items"]] == [failed[0]["id"]]
        by_ticket = client.get("/api/v1/deliveries", params={"ticket": first}).json()["items"]
        assert [v["id"] for v in by_ticket] == [failed[0]["id"]]
        page = client.get("/api/v1/deliveries", params={"limit": 1}).json()
        older = client.get("/api/v1/deliveries", params={"cursor": page["next_cursor"]}).json()
        assert len(page["items"]) == len(older["items"]) == 1
        assert older["next_cursor"] is None

        replayed = client.post("/api/v1/deliveries/endpoints/hook/replay-failed").json()
        assert replayed == {"replayed": 1}
        drain(d)
        one = client.get(f"/api/v1/deliveries/{failed[0]['id']}").json()
        assert (one["status"], one["attempts"]) == ("delivered", 2)
        again = client.post(f"/api/v1/deliveries/{failed[0]['id']}/replay").json()
        assert again["status"] == "pending"
        drain(d)
        enabled = client.post("/api/v1/deliveries/endpoints/hook/enable").json()
        assert enabled["state"] == "healthy"
        assert enabled["delivered"] == 2

        for path in ("/api/v1/deliveries/999999", "/api/v1/deliveries/endpoints/nope"):
            missing = client.get(path)
            assert missing.status_code == 404
            assert set(missing.json()["error"]) == {"code", "message", "details"}
        assert client.post("/api/v1/deliveries/999999/replay").status_code == 404
        assert client.post("/api/v1/deliveries/endpoints/nope/replay-failed").status_code == 404
        assert client.get("/api/v1/deliveries", params={"cursor": "x"}).status_code == 422
    assert len(receiver.received) == 4
