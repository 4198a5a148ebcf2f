"""Text with a NUL (U+0000): PostgreSQL cannot store or even compare it, so before these
checks a filter or a body carrying one was a 500 there (and stored as given on SQLite). Now
it is a 422 that names the field, the same on both databases, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.exc import DataError

from api.app import create_app
from api.errors import install_error_handlers
from steward.clock import FakeClock
from tests.api.test_access_control import BOOTSTRAP, bearer, build

COMPLAINT: dict[str, Any] = {
    "site": "oak",
    "category": "facility",
    "priority": "general",
    "title": "Corridor light out",
    "reporter": {"room": "6-602", "name": "Li", "phone": "138 0000", "channel": "phone"},
}
FILTERS = [
    ("/tickets", {"site": "oak\x00"}),
    ("/tickets", {"device": "car\x00"}),
    ("/tickets", {"rule": "elevator.entrapment\x00"}),
    ("/silences", {"site": "\x00"}),
    ("/devices", {"site": "\x00"}),
    ("/patrol/compliance", {"site": "\x00"}),
    ("/deliveries", {"endpoint": "\x00"}),
    ("/deliveries", {"ticket": "ST-\x00"}),
    ("/deliveries", {"event_id": "\x00"}),
]


@pytest.fixture
def client(database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[TestClient]:
    steward = build(database_url, clock, tmp_path, admin_api_key=SecretStr(BOOTSTRAP))
    try:
        with TestClient(create_app(steward), headers=bearer(BOOTSTRAP)) as c:
            yield c
    finally:
        steward.stop()


def _refused(response: Any, where: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["where"] == where


@pytest.mark.parametrize(("path", "params"), FILTERS)
def test_a_nul_in_a_filter_is_a_422(client: TestClient, path: str, params: dict[str, str]) -> None:
    (name,) = params
    _refused(client.get("/api/v1" + path, params=params), f"query.{name}")


def test_a_nul_in_a_body_is_a_422_and_nothing_is_written(client: TestClient) -> None:
    bodies = [
        ("/tickets", {**COMPLAINT, "title": "light\x00out"}, "body.title"),
        ("/tickets", {**COMPLAINT, "reporter": {**COMPLAINT["reporter"], "name": "L\x00"}}, None),
        ("/keys", {"name": "desk\x00", "role": "viewer"}, "body.name"),
        (
            "/silences",
            {
                "site": "oak",
                "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": "2026-01-02T00:00:00Z",
                "reason": "lift service\x00",
                "author": "ops",
            },
            "body.reason",
        ),
    ]
    for path, body, where in bodies:
        _refused(client.post("/api/v1" + path, json=body), where or "body.reporter.name")
    assert client.get("/api/v1/tickets").json()["items"] == []
    assert client.get("/api/v1/keys").json() == []
    assert client.get("/api/v1/silences").json() == []
    number = client.post("/api/v1/tickets", json=COMPLAINT).json()["id"]
    note = {"actor": "duty\x00", "note": "on it"}
    _refused(client.post(f"/api/v1/tickets/{number}/acknowledge", json=note), "body.actor")
    assert client.get(f"/api/v1/tickets/{number}").json()["status"] == "open"


def test_a_value_the_database_refuses_is_a_400_not_a_500() -> None:
    """The net under validation: a value only the database finds bad is the client's."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/store")
    def store() -> None:
        raise DataError("INSERT ...", {}, ValueError("invalid byte sequence"))

    response = TestClient(app).get("/store")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
