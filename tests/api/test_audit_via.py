"""Every ticket change made through the API records the API key it came with (``data.via``:
the key's ``stw_<prefix>`` and name, never its secret); a manual ticket's actor is the key's
name; a lifecycle action's actor stays the person its body names. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.access import BOOTSTRAP as BOOTSTRAP_PRINCIPAL
from api.access import OPEN
from api.app import create_app
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tests.delivery.helpers import open_ticket
from tickets.api_keys import ApiKeyStore, Role
from tickets.lifecycle import TicketAction

BOOTSTRAP = "bootstrap-secret-for-audit-tests"
COMPLAINT = {
    "site": "maple",
    "device": "lift-1",
    "category": "facility",
    "priority": "general",
    "title": "Lift 1 stuck again",
    "reporter": {"room": "6-602", "name": "Li", "phone": "138", "channel": "phone"},
}


def make(database_url: str, clock: FakeClock, **extra: Any) -> Steward:
    settings = Settings(database_url=database_url, mqtt_url="mqtt://127.0.0.1:1", **extra)
    return Steward(settings, clock=clock)


@pytest.fixture
def steward(database_url: str, clock: FakeClock) -> Iterator[Steward]:
    s = make(database_url, clock, admin_api_key=SecretStr(BOOTSTRAP))
    try:
        yield s
    finally:
        s.stop()


def new_key(steward: Steward, name: str, role: Role) -> tuple[str, dict[str, str]]:
    """The token, and the ``via`` its changes must record."""
    view, token = ApiKeyStore(steward.sessions, steward.clock).create(
        name=name, role=role, site=None, created_by="test"
    )
    return token, {"key": f"stw_{view.prefix}", "name": name}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def entry(ticket: dict[str, Any], action: str) -> dict[str, Any]:
    [found] = [h for h in ticket["history"] if h["action"] == action]
    return dict(found)


def test_each_change_records_the_key_it_came_with(steward: Steward, clock: FakeClock) -> None:
    desk, desk_via = new_key(steward, "help desk", Role.INTEGRATION)
    night, night_via = new_key(steward, "night desk", Role.OPERATOR)
    sensor = open_ticket(steward.tickets, clock, "lift-1")  # Steward's own: no via
    with TestClient(create_app(steward)) as client:
        made = client.post("/api/v1/tickets", json=COMPLAINT, headers=auth(desk))
        assert made.status_code == 201, made.text
        complaint = made.json()
        opened = entry(complaint, "opened")
        assert opened["actor"] == "help desk"
        assert opened["data"]["via"] == desk_via
        assert opened["data"]["linked_to"] == sensor

        def act(number: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = client.post(
                f"/api/v1/tickets/{number}/{action}", json=body, headers=auth(night)
            )
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        acked = entry(act(sensor, "acknowledge", {"actor": "Alice"}), "acknowledged")
        assert (acked["actor"], acked["data"]) == ("Alice", {"via": night_via})
        act(sensor, "plan", {"actor": "Alice", "note": "call the lift company"})
        act(sensor, "reassign", {"actor": "Alice", "to": "Bob", "note": "shift change"})
        act(sensor, "resolve", {"actor": "Bob", "note": "rope replaced"})
        follow_up = {"result": "fixed", "satisfaction": 5}
        act(complaint["id"], "close", {"actor": "Bob", "follow_up": follow_up})

        # Read back through the list path (no ORM) as well as the changes' answers above.
        stored = {
            t["id"]: t for t in client.get("/api/v1/tickets", headers=auth(desk)).json()["items"]
        }
    parent = stored[sensor]
    assert "via" not in entry(parent, "opened")["data"]
    linked = entry(parent, "complaint_linked")
    assert (linked["actor"], linked["data"]["via"]) == ("help desk", desk_via)
    assert entry(parent, "planned")["data"] == {"via": night_via}
    reassigned = entry(parent, "reassigned")
    assert reassigned["data"] == {"from": "Alice", "to": "Bob", "via": night_via}
    assert entry(parent, "resolved")["data"] == {"via": night_via}
    child = stored[complaint["id"]]
    # The complaint was resolved with its sensor ticket, by the same request and key.
    assert (entry(child, "resolved")["actor"], entry(child, "resolved")["data"]) == (
        "Bob",
        {"via": night_via},
    )
    closed = entry(child, "closed")
    assert closed["data"]["via"] == night_via
    assert closed["data"]["follow_up"] == {"result": "fixed", "satisfaction": 5}
    everything = json.dumps(stored)
    secrets = [desk.split("_", 2)[2], night.split("_", 2)[2]]  # a secret may hold "_" itself
    assert not [s for s in secrets if s in everything]


def test_the_bootstrap_key_names_itself(steward: Steward) -> None:
    with TestClient(create_app(steward)) as client:
        made = client.post("/api/v1/tickets", json=COMPLAINT, headers=auth(BOOTSTRAP))
        assert made.status_code == 201
        opened = entry(made.json(), "opened")
        assert opened["actor"] == "STEWARD_ADMIN_API_KEY"
        assert opened["data"]["via"] == {"key": "bootstrap", "name": "STEWARD_ADMIN_API_KEY"}
        acked = client.post(
            f"/api/v1/tickets/{made.json()['id']}/acknowledge",
            json={"actor": "Carol"},
            headers=auth(BOOTSTRAP),
        )
        assert entry(acked.json(), "acknowledged")["actor"] == "Carol"
        assert entry(acked.json(), "acknowledged")["data"]["via"] == BOOTSTRAP_PRINCIPAL.via
        assert BOOTSTRAP not in made.text + acked.text


def test_the_open_api_names_itself(database_url: str, clock: FakeClock) -> None:
    demo = make(database_url, clock)  # no bootstrap key, no stored key: open
    try:
        with TestClient(create_app(demo)) as client:
            made = client.post("/api/v1/tickets", json=COMPLAINT)
            assert made.status_code == 201, made.text
            opened = entry(made.json(), "opened")
            assert opened["actor"] == OPEN.name == "open API (no keys configured)"
            assert opened["data"]["via"] == {"key": "open", "name": OPEN.name}
    finally:
        demo.stop()


def test_entries_without_via_still_read(steward: Steward, clock: FakeClock) -> None:
    """Entries written before ``via`` existed, or not through the API (the CLI, tests), have
    none: they read as before, and the schema does not require it."""
    number = open_ticket(steward.tickets, clock, "lift-2")
    steward.tickets.act(number=number, action=TicketAction.ACKNOWLEDGE, actor="dana")
    with TestClient(create_app(steward)) as client:
        ticket = client.get(f"/api/v1/tickets/{number}", headers=auth(BOOTSTRAP)).json()
        schema = client.get("/openapi.json").json()["components"]["schemas"]["HistoryEntry"]
    assert [h["data"].get("via") for h in ticket["history"]] == [None, None]
    via = schema["properties"]["data"]["properties"]["via"]
    assert via["required"] == ["key", "name"]
    assert "via" not in schema["properties"]["data"].get("required", [])
