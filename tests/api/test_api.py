"""The HTTP API over a real database, without a broker: filters, pagination, errors (4xx with
one error shape, never a 500), auth when an admin key is set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.errors import ERROR_MODELS, ErrorResponse
from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Category, Decision, Priority
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tickets.listing import encode_cursor

COMPLAINT = {
    "site": "maple",
    "category": "facility",
    "priority": "general",
    "title": "Corridor light out on 6F",
    "description": "since yesterday",
    "reporter": {"room": "6-602", "name": "Li", "phone": "13800000000", "channel": "phone"},
}


def decision(
    device: str,
    rule: str = "elevator.entrapment",
    priority: Priority = Priority.EMERGENCY,
    at: float = 0.0,
) -> Decision:
    ref = DeviceRef("maple", Kind.ELEVATOR, device)
    return Decision(
        action=Action.FIRE,
        rule=rule,
        ref=ref,
        at=at,
        priority=priority,
        category=Category.FACILITY,
        title=f"{rule} {device}",
        description="",
        dedup_key=f"maple/elevator/{device}/{rule}",
        evidence={"x": 1},
    )


def make_client(database_url: str, clock: FakeClock, **extra: Any) -> Iterator[TestClient]:
    steward = Steward(
        Settings(database_url=database_url, mqtt_url="mqtt://127.0.0.1:1", **extra), clock=clock
    )
    try:
        with TestClient(create_app(steward)) as client:
            client.steward = steward  # type: ignore[attr-defined]
            yield client
    finally:
        steward.stop()


@pytest.fixture
def client(database_url: str, clock: FakeClock) -> Iterator[TestClient]:
    yield from make_client(database_url, clock)


def steward_of(client: TestClient) -> Steward:
    steward: Steward = client.steward  # type: ignore[attr-defined]
    return steward


def test_list_filters_and_cursor_pagination(client: TestClient, clock: FakeClock) -> None:
    service = steward_of(client).tickets
    for i in range(25):
        clock.advance(60)
        prio = Priority.EMERGENCY if i % 5 == 0 else Priority.GENERAL
        service.apply(decisions=[decision(f"car{i}", priority=prio, at=clock.now())])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/tickets", params=params).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 25 == len(set(seen))
    assert seen == sorted(seen, reverse=True)  # newest first
    emergencies = client.get("/api/v1/tickets", params={"priority": "emergency"}).json()
    assert len(emergencies["items"]) == 5
    both = client.get("/api/v1/tickets", params=[("status", "open"), ("status", "resolved")]).json()
    assert len(both["items"]) == 25
    one = client.get("/api/v1/tickets", params={"device": "car3"}).json()["items"]
    assert [t["device"] for t in one] == ["car3"]


def test_manual_ticket_with_idempotency_key(client: TestClient) -> None:
    first = client.post("/api/v1/tickets", json=COMPLAINT, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/tickets", json=COMPLAINT, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["source"] == "manual"
    assert first.json()["reporter"]["room"] == "6-602"
    other = client.post(
        "/api/v1/tickets",
        json={**COMPLAINT, "title": "different"},
        headers={"Idempotency-Key": "k1"},
    )
    assert other.status_code == 409


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("get", "/api/v1/tickets?status=bogus", None, 422, "validation_error"),
        ("get", "/api/v1/tickets?limit=0", None, 422, "validation_error"),
        ("get", "/api/v1/tickets?limit=100000", None, 422, "validation_error"),
        ("get", "/api/v1/tickets?cursor=%%%not-a-cursor", None, 400, "bad_request"),
        ("get", "/api/v1/tickets?opened_after=yesterday", None, 422, "validation_error"),
        ("get", "/api/v1/tickets/ST-999999", None, 404, "ticket_not_found"),
        ("get", "/api/v1/tickets/has%20space", None, 422, "validation_error"),
        ("post", "/api/v1/tickets", {"site": "x"}, 422, "validation_error"),
        ("post", "/api/v1/tickets", {**COMPLAINT, "priority": "urgent"}, 422, "validation_error"),
        ("post", "/api/v1/tickets/ST-000001/acknowledge", {}, 422, "validation_error"),
        ("post", "/api/v1/tickets/ST-999999/acknowledge", {"actor": "a"}, 404, "ticket_not_found"),
        ("get", "/api/v1/devices/maple/NOT_AN_ID", None, 422, "validation_error"),
        ("get", "/api/v1/devices/maple/unknown", None, 404, "http_error"),
        ("get", "/api/v1/nope", None, 404, "http_error"),
        # Ids past 32 bits were a 500 on PostgreSQL (integer out of range), found by the
        # schema fuzzer (tests/api/test_schema_fuzz.py).
        ("get", "/api/v1/deliveries/2147483648", None, 422, "validation_error"),
        ("post", "/api/v1/deliveries/2147483648/replay", None, 422, "validation_error"),
        ("get", "/api/v1/deliveries?cursor=999999999999999999", None, 400, "http_error"),
        ("get", f"/api/v1/tickets?cursor={encode_cursor(10**17)}", None, 400, "bad_request"),
        ("get", "/api/v1/tickets?opened_after=1e400", None, 422, "validation_error"),
    ],
)
def test_bad_requests_get_a_4xx_with_one_error_shape(
    client: TestClient, method: str, path: str, body: Any, status: int, code: str
) -> None:
    client.post("/api/v1/tickets", json=COMPLAINT)  # ST-000001 exists
    response = client.request(method.upper(), path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_a_405_allows_every_method_of_the_path(client: TestClient) -> None:
    """Starlette named only the first route that matched the path (``Allow: POST``), and the
    error handler dropped even that."""
    response = client.request("OPTIONS", "/api/v1/silences")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "http_error"
    assert client.delete("/api/v1/tickets/ST-000001").headers["allow"] == "GET"


def test_times_in_a_query_are_rfc_3339_or_epoch_seconds(client: TestClient) -> None:
    """As the schema says; pydantic alone read a number over 2e10 as milliseconds and
    refused ``1.5e9``."""
    number = client.post("/api/v1/tickets", json=COMPLAINT).json()["id"]  # 2026-01-01T00:00Z

    def found(**params: str) -> list[str]:
        response = client.get("/api/v1/tickets", params=params)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert found(opened_after="1.7672256e9") == [number]
    assert found(opened_after="1767225601") == []
    assert found(opened_before="253402300799") == [number]  # not milliseconds: year 9999
    assert found(opened_after="2025-12-31T23:00:01-01:00") == []
    assert client.get("/api/v1/tickets", params={"opened_after": "nan"}).status_code == 422


def test_the_schema_documents_every_error_as_json(client: TestClient) -> None:
    """The SSE route documented its 401/403 as ``text/event-stream``; routers without
    ``ERROR_RESPONSES`` documented FastAPI's 422 shape, not the one the handler sends. Every
    error is one of the error models (each an ``ErrorResponse``), and its example is one."""
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    models = {f"#/components/schemas/{m.__name__}": m for m in ERROR_MODELS}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path != "/readyz":
                    where = (method, path, status)
                    assert set(response["content"]) == {"application/json"}, where
                    media = response["content"]["application/json"]
                    assert set(media) <= {"schema", "example"}, where
                    model = models[media["schema"]["$ref"]]
                    if "example" in media:
                        example = media["example"]
                        assert model.model_validate(example), where
                        assert ErrorResponse.model_validate(example), where
    stream = paths["/api/v1/alerts/stream"]["get"]
    header = next(p for p in stream["parameters"] if p["in"] == "header")
    assert header["schema"]["type"] == "string"  # not "or null": a header is absent or text
    assert paths["/readyz"]["get"]["responses"]["503"]["content"]


def test_invalid_transition_is_409_with_allowed_actions(client: TestClient) -> None:
    number = client.post("/api/v1/tickets", json=COMPLAINT).json()["id"]
    response = client.post(f"/api/v1/tickets/{number}/close", json={"actor": "a"})
    assert response.status_code == 409
    assert response.json()["error"]["details"]["allowed"] == [
        "acknowledge",
        "start",
        "resolve",
        "cancel",
    ]
    ok = client.post(
        f"/api/v1/tickets/{number}/acknowledge",
        json={"actor": "desk", "note": "calling the electrician"},
    )
    assert ok.status_code == 200
    history = ok.json()["history"]
    assert history[-1]["actor"] == "desk"
    assert history[-1]["note"] == "calling the electrician"


def test_health_endpoints_without_a_broker(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"broker": False, "database": True}
    assert "steward_mqtt_messages_total" in client.get("/metrics").text
    assert client.get("/openapi.json").json()["info"]["title"] == "Steward"


def test_admin_key_required_when_configured(tmp_path: Any, clock: FakeClock) -> None:
    url = f"sqlite:///{tmp_path}/k.db"
    for client in make_client(url, clock, admin_api_key=SecretStr("s3cret")):
        assert client.get("/api/v1/tickets").status_code == 401
        bad = client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.json()["error"]["code"] == "unauthorized"
        assert "s3cret" not in bad.text
        good = client.get("/api/v1/tickets", headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200
        assert client.get("/healthz").status_code == 200  # probes stay open
