"""The service standard over HTTP: monthly review (JSON, CSV), maintenance windows, plans,
hand-overs, follow-up at close; every bad request a 4xx in the one error shape."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.errors import InvalidTransitionDetails, InvalidTransitionResponse
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from steward.site import parse_config
from tests.tickets.timeline import Site, local
from tickets.lifecycle import ACTIVE_STATUSES, ALLOWED_FROM, Status, TicketAction, allowed_actions

SITE = {
    "sites": [
        {
            "id": "maple",
            "buildings": [
                {
                    "id": "b1",
                    "devices": [
                        {"id": "lift-1", "kind": "elevator"},
                        {"id": "ext-1", "kind": "extinguisher"},
                        {"id": "cp-1", "kind": "patrol", "params": {"interval_min": 120}},
                        {"id": "cp-2", "kind": "patrol", "params": {"key_area": False}},
                    ],
                }
            ],
        }
    ]
}
COMPLAINT = {
    "site": "maple",
    "category": "facility",
    "priority": "general",
    "title": "Corridor light out on 6F",
    "reporter": {"room": "6-602", "name": "Li", "phone": "13800000000", "channel": "app"},
}


@pytest.fixture
def client(database_url: str, clock: FakeClock) -> Iterator[TestClient]:
    clock.set(local("05-04 10:00"))
    steward = Steward(
        Settings(database_url=database_url, mqtt_url="mqtt://127.0.0.1:1"),
        clock=clock,
        config=parse_config(SITE, Path("site.yaml")),
    )
    try:
        with TestClient(create_app(steward)) as client:
            client.steward = steward  # type: ignore[attr-defined]
            yield client
    finally:
        steward.stop()


def site_of(client: TestClient, clock: FakeClock) -> Site:
    steward: Steward = client.steward  # type: ignore[attr-defined]
    return Site(steward.tickets, clock)


def open_complaint(client: TestClient, **changes: Any) -> str:
    response = client.post("/api/v1/tickets", json={**COMPLAINT, **changes})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def post(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    response = client.post(f"/api/v1{path}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


# -- the monthly review ---------------------------------------------------------------------


def test_the_monthly_review_as_json_and_csv(client: TestClient, clock: FakeClock) -> None:
    site = site_of(client, clock)
    site.fire("patrol.missed_checkpoint", "cp-1", building="b1")
    number = open_complaint(client)
    site.at("05-04 18:00")  # both left unanswered past their 4 h
    post(client, f"/tickets/{number}/acknowledge", {"actor": "desk"})
    report = client.get("/api/v1/reports/monthly", params={"site": "maple", "month": "2026-05"})
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["site"], body["month"], body["opened"]) == ("maple", "2026-05", 2)
    general = next(p for p in body["sla"] if p["priority"] == "general")
    respond = next(s for s in general["steps"] if s["step"] == "respond")
    assert (respond["met"], respond["missed"], respond["colour"]) == (0, 2, "red")
    # The site file knows one key-area checkpoint every 2 h: 31 days × 12 rounds.
    assert (body["patrol"]["expected_rounds"], body["patrol"]["missed_rounds"]) == (372, 1)
    inspection = {i["kind"]: i["devices"] for i in body["inspection"]}
    assert inspection == {"elevator": 1, "extinguisher": 1}

    as_csv = client.get(
        "/api/v1/reports/monthly", params={"site": "maple", "month": "2026-05", "format": "csv"}
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "steward-maple-2026-05.csv" in as_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["section", "group", "item", "metric", "value"]
    assert ["sla", "general", "respond", "missed", "2"] in rows


def test_a_site_without_tickets_has_an_empty_review(client: TestClient) -> None:
    body = client.get("/api/v1/reports/monthly", params={"site": "elm", "month": "2026-04"}).json()
    assert (body["opened"], body["sla_overall"]["compliance_pct"], body["patrol"]["colour"]) == (
        0,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"month": "2026-05"}, 422, "validation_error"),
        ({"site": "maple"}, 422, "validation_error"),
        ({"site": "maple", "month": "2026-13"}, 422, "validation_error"),
        ({"site": "maple", "month": "26-05"}, 422, "validation_error"),
        ({"site": "maple", "month": "2026-5"}, 422, "validation_error"),
        ({"site": "Maple Court", "month": "2026-05"}, 422, "validation_error"),
        ({"site": "maple", "month": "2026-05", "format": "xlsx"}, 422, "validation_error"),
        ({"site": "maple", "month": "2026-06"}, 400, "bad_request"),  # not started yet
        ({"site": "maple", "month": "9999-12"}, 400, "bad_request"),
        ({"site": "maple", "month": "0001-01"}, 400, "bad_request"),
    ],
)
def test_bad_report_requests_are_4xx(
    client: TestClient, params: dict[str, str], status: int, code: str
) -> None:
    response = client.get("/api/v1/reports/monthly", params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


# -- maintenance windows --------------------------------------------------------------------


def window(**changes: Any) -> dict[str, Any]:
    return {
        "site": "maple",
        "device": "lift-1",
        "starts_at": "2026-05-04T02:00:00Z",
        "ends_at": "2026-05-04T04:00:00Z",
        "reason": "annual inspection",
        "author": "zhang",
        **changes,
    }


def test_windows_over_http(client: TestClient, clock: FakeClock) -> None:
    created = client.post("/api/v1/silences", json=window())
    assert created.status_code == 201, created.text
    silence = created.json()
    assert (silence["state"], silence["conditions"]) == ("active", [])
    site = site_of(client, clock)
    site.fire("elevator.door_fault", "lift-1", building="b1")
    listed = client.get("/api/v1/silences", params={"site": "maple", "state": "active"}).json()
    assert [s["id"] for s in listed] == [silence["id"]]
    assert listed[0]["conditions"][0]["state"] == "silenced"
    ended = post(client, f"/silences/{silence['id']}/end", {"actor": "zhang"})
    assert (ended["state"], ended["conditions"][0]["state"]) == ("expired", "released")
    tickets = client.get("/api/v1/tickets", params={"device": "lift-1"}).json()["items"]
    assert [t["rule"] for t in tickets] == ["elevator.door_fault"]
    again = client.post(f"/api/v1/silences/{silence['id']}/end", json={"actor": "zhang"})
    assert again.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/silences", window(rule="elevator.entrapment"), 400, "bad_request"),
        ("post", "/silences", window(rule="elevator.door_open_while_moving"), 400, "bad_request"),
        ("post", "/silences", window(ends_at="2026-05-04T01:00:00Z"), 400, "bad_request"),
        ("post", "/silences", window(ends_at="2026-07-04T01:00:00Z"), 400, "bad_request"),
        ("post", "/silences", window(ends_at="2026-05-04T04:00:00"), 422, "validation_error"),
        (
            "post",
            "/silences",
            window(starts_at="9999-12-31T20:00:00-14:00", ends_at="9999-12-31T23:00:00-14:00"),
            400,
            "bad_request",
        ),
        ("get", "/tickets?opened_after=0001-01-01T00:00:00%2B14:00", None, 400, "bad_request"),
        ("post", "/silences", window(ends_at="tomorrow"), 422, "validation_error"),
        ("post", "/silences", window(rule="entrapment"), 422, "validation_error"),
        ("post", "/silences", window(site="Maple!"), 422, "validation_error"),
        ("post", "/silences", window(colour="red"), 422, "validation_error"),
        ("post", "/silences", {"site": "maple"}, 422, "validation_error"),
        ("get", "/silences?state=sleeping", None, 422, "validation_error"),
        ("get", "/silences/999", None, 404, "http_error"),
        ("get", "/silences/abc", None, 422, "validation_error"),
        ("get", "/silences/0", None, 422, "validation_error"),
        ("post", "/silences/999/end", {"actor": "a"}, 404, "http_error"),
        ("post", "/silences/1/end", {}, 422, "validation_error"),
    ],
)
def test_bad_window_requests_are_4xx(
    client: TestClient, method: str, path: str, body: Any, status: int, code: str
) -> None:
    response = client.request(method.upper(), f"/api/v1{path}", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


# -- lifecycle actions ----------------------------------------------------------------------


def test_plan_reassign_and_close_with_the_follow_up(client: TestClient) -> None:
    number = open_complaint(client)
    post(client, f"/tickets/{number}/acknowledge", {"actor": "alice"})
    planned = post(client, f"/tickets/{number}/plan", {"actor": "alice", "note": "new tube"})
    assert planned["planned_at"] is not None
    handed = post(
        client,
        f"/tickets/{number}/reassign",
        {"actor": "alice", "to": "bob", "note": "bob is on the 6th floor"},
    )
    assert handed["owner"] == "bob"
    post(client, f"/tickets/{number}/resolve", {"actor": "bob"})
    closed = post(
        client,
        f"/tickets/{number}/close",
        {"actor": "desk", "follow_up": {"result": "light works", "satisfaction": 4}},
    )
    assert closed["status"] == "closed"
    assert (closed["follow_up"]["satisfaction"], closed["follow_up"]["by"]) == (4, "desk")
    assert [h["action"] for h in closed["history"]] == [
        "opened",
        "acknowledged",
        "planned",
        "reassigned",
        "resolved",
        "closed",
    ]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("plan", {"actor": "a"}, 422, "validation_error"),
        ("plan", {"actor": "a", "note": ""}, 422, "validation_error"),
        ("reassign", {"actor": "a", "note": "x"}, 422, "validation_error"),
        (
            "close",
            {"actor": "a", "follow_up": {"result": "ok", "satisfaction": 6}},
            422,
            "validation_error",
        ),
        (
            "close",
            {"actor": "a", "follow_up": {"result": "ok", "satisfaction": "5"}},
            422,
            "validation_error",
        ),
        ("close", {"actor": "a", "follow_up": {"satisfaction": 5}}, 422, "validation_error"),
        ("close", {"actor": "a"}, 409, "invalid_transition"),  # still open
        ("plan", {"actor": "a", "note": "   "}, 422, "validation_error"),
    ],
)
def test_bad_action_requests_are_4xx(
    client: TestClient, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    number = open_complaint(client)
    response = client.post(f"/api/v1/tickets/{number}/{path}", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_a_plan_on_a_resolved_ticket_is_409_with_the_allowed_actions(client: TestClient) -> None:
    number = open_complaint(client)
    post(client, f"/tickets/{number}/resolve", {"actor": "a"})
    for path, body in (
        ("plan", {"actor": "a", "note": "n"}),
        ("reassign", {"actor": "a", "to": "b", "note": "n"}),
    ):
        response = client.post(f"/api/v1/tickets/{number}/{path}", json=body)
        assert response.status_code == 409
        assert response.json()["error"]["details"]["allowed"] == ["close", "reopen"]


def test_a_declared_power_cut_and_a_linked_complaint(client: TestClient, clock: FakeClock) -> None:
    declared = open_complaint(
        client, rule="power.cut", priority="emergency", title="Grid notice: cut until 13:00"
    )
    site = site_of(client, clock)
    site.fire("elevator.power_loss", "lift-1", building="b1")
    assert client.get(f"/api/v1/tickets/{declared}").json()["linked_conditions"][0]["device"] == (
        "lift-1"
    )
    bad = client.post("/api/v1/tickets", json={**COMPLAINT, "rule": "elevator.entrapment"})
    assert bad.status_code == 422


def test_openapi_describes_each_action_and_error(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/reports/monthly",
        "/api/v1/silences",
        "/api/v1/silences/{silence_id}",
        "/api/v1/silences/{silence_id}/end",
        "/api/v1/tickets/{number}/plan",
        "/api/v1/tickets/{number}/reassign",
        "/api/v1/tickets/{number}/close",
    ):
        assert path in paths, path
    close = paths["/api/v1/tickets/{number}/close"]["post"]
    assert {"200", "404", "409", "422"} <= set(close["responses"])
    assert "follow-up" in close["description"]
    report = paths["/api/v1/reports/monthly"]["get"]
    assert "text/csv" in report["responses"]["200"]["content"]
    assert "400" in report["responses"]

    # Every lifecycle action (and plan, reassign): where it is allowed, where it leads, its 409.
    schemas = spec["components"]["schemas"]
    details = schemas["InvalidTransitionDetails"]
    assert set(details["required"]) == {"status", "action", "allowed"}
    assert details["properties"]["status"]["$ref"] == "#/components/schemas/Status"
    assert schemas["Status"]["enum"] == [s.value for s in Status]
    assert details["properties"]["allowed"]["items"]["$ref"] == "#/components/schemas/TicketAction"
    assert schemas["TicketAction"]["enum"] == [a.value for a in TicketAction]
    body = schemas["InvalidTransitionBody"]
    assert body["properties"]["code"]["const"] == "invalid_transition"
    assert body["properties"]["details"]["$ref"] == "#/components/schemas/InvalidTransitionDetails"
    InvalidTransitionDetails.model_validate(details["example"])

    to = {
        "acknowledge": "acknowledged",
        "start": "in_progress",
        "progress": None,  # the status stays
        "resolve": "resolved",
        "close": "closed",
        "reopen": "open",
        "cancel": "cancelled",
        "plan": None,
        "reassign": None,
    }
    active = [s for s in Status if s in ACTIVE_STATUSES]
    allowed_from = {a.value: [s for s in Status if s in ALLOWED_FROM[a]] for a in TicketAction}
    allowed_from |= {"plan": active, "reassign": active}
    assert set(to) == set(allowed_from) == {a.value for a in TicketAction} | {"plan", "reassign"}
    for action, sources in allowed_from.items():
        operation = paths[f"/api/v1/tickets/{{number}}/{action}"]["post"]
        codes = ", ".join(f"`{s.value}`" for s in sources)
        refused = ", ".join(f"`{s.value}`" for s in Status if s not in sources)
        text = operation["description"]
        assert f"**Allowed from:** {codes}." in text, action
        assert f"From any other status ({refused}): 409 `invalid_transition`" in text, action
        target = to[action]
        assert (f"Moves the ticket to `{target}`." if target else "does not change") in text
        assert operation["x-lifecycle"] == {
            "action": action,
            "allowed_from": [s.value for s in sources],
            "moves_to": {s.value: target or s.value for s in sources},
        }
        assert "Lifecycle action '" not in text  # the old, placeholder description
        responses = operation["responses"]
        assert {"200", "400", "401", "403", "404", "409", "422"} == set(responses), action
        conflict = responses["409"]["content"]["application/json"]
        assert conflict["schema"] == {"$ref": "#/components/schemas/InvalidTransitionResponse"}
        example = InvalidTransitionResponse.model_validate(conflict["example"]).error.details
        assert example.action == action
        assert example.status not in sources
        assert example.allowed == allowed_actions(example.status)
        assert ("note" in responses["400"]["description"]) is (action == "progress"), action

    # A refusal answers as documented.
    number = open_complaint(client)
    refused_close = client.post(f"/api/v1/tickets/{number}/close", json={"actor": "a"})
    assert refused_close.status_code == 409
    answer = InvalidTransitionResponse.model_validate(refused_close.json()).error.details
    assert answer == InvalidTransitionDetails(
        status=Status.OPEN, action="close", allowed=allowed_actions(Status.OPEN)
    )

    # Opening a ticket: 201, or 200 for a replay; its 409 is the idempotency key's.
    create = paths["/api/v1/tickets"]["post"]["responses"]
    view = {"$ref": "#/components/schemas/TicketView"}
    for status in ("200", "201"):
        assert create[status]["content"]["application/json"]["schema"] == view, status
    assert "Idempotency-Key" in create["200"]["description"]
    assert "Idempotency-Key" in create["409"]["description"]
    assert "state" not in create["409"]["description"]
    assert create["409"]["content"]["application/json"]["example"]["error"]["code"] == "conflict"

    # A read never conflicts with anything.
    for path, operations in paths.items():
        if "get" in operations:
            assert "409" not in operations["get"]["responses"], path


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    site=st.one_of(st.text(max_size=70), st.just("maple")),
    month=st.one_of(st.text(max_size=10), st.from_regex(r"\A\d{4}-\d{2}\Z")),
    fmt=st.sampled_from(["json", "csv", "pdf"]),
)
def test_no_report_request_is_a_server_error(
    client: TestClient, site: str, month: str, fmt: str
) -> None:
    response = client.get(
        "/api/v1/reports/monthly", params={"site": site, "month": month, "format": fmt}
    )
    assert response.status_code < 500, response.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.fixed_dictionaries(
        {
            "site": st.sampled_from(["maple", "", "x" * 70]),
            "starts_at": st.one_of(st.datetimes(timezones=st.timezones()).map(str), st.text()),
            "ends_at": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
            "reason": st.text(max_size=5),
            "author": st.text(max_size=5),
        },
        optional={"rule": st.text(max_size=30), "building": st.text(max_size=5)},
    )
)
def test_no_window_request_is_a_server_error(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/api/v1/silences", json=body)
    assert response.status_code < 500, response.text
