"""``GET /tickets`` and ``GET /tickets/{number}`` write their JSON without pydantic
(``tickets.render.ticket_docs``, ``tickets.listing.page_json``): every answer must be the
very bytes the ``TicketView``/``TicketPage`` path gives (``TicketService.list``/``get``
serialised by FastAPI), which the routes fall back to when the fast path declines.

Each request is made twice, once as it is served and once with the fast path made to
decline, and the two answers are compared byte for byte: over every ticket of the simulated
month (reporters, follow-ups, escalations, parents, linked complaints and conditions, unset
fields), under many filters, page sizes and cursors, and over stored values chosen to be
awkward (microseconds, another session time zone, JSON the fast path must not vouch for).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError
from sqlalchemy import text

import api.routes.tickets as ticket_routes
import tickets.listing as listing
from api.app import create_app
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tests.api.test_api import COMPLAINT, decision, make_client, steward_of
from tests.tickets import test_monthly_review as monthly
from tests.tickets.timeline import local
from tickets.listing import encode_cursor
from tickets.render import Declined

Params = dict[str, Any] | list[tuple[str, Any]]
month = monthly.month
"""The simulated month's fixture (tests/tickets/test_monthly_review.py), played here too."""


def _count_service_reads(steward: Steward, patch: pytest.MonkeyPatch) -> Callable[[], int]:
    count = [0]
    for name in ("list", "get"):
        original = getattr(steward.tickets, name)

        def counted(*args: Any, _original: Callable[..., Any] = original, **kw: Any) -> Any:
            count[0] += 1
            return _original(*args, **kw)

        patch.setattr(steward.tickets, name, counted)
    return lambda: count[0]


def _decline(*_args: Any, **_kw: Any) -> NoReturn:
    raise Declined("made to decline by the test")


def answers(client: TestClient, path: str, params: Params | None = None) -> tuple[Any, Any]:
    """The answer as served (which must not have gone through the service), then the
    answer through ``TicketView`` (the fast path made to decline)."""
    steward = steward_of(client)
    with pytest.MonkeyPatch.context() as patch:
        reads = _count_service_reads(steward, patch)
        fast = client.get(path, params=params)
        assert reads() == 0, f"{path} {params}: the fast path declined"
    with pytest.MonkeyPatch.context() as patch:
        reads = _count_service_reads(steward, patch)
        patch.setattr(ticket_routes, "ticket_docs", _decline)
        patch.setattr(listing, "ticket_docs", _decline)
        slow = client.get(path, params=params)
        if slow.status_code == 200:
            assert reads() == 1, f"{path} {params}: not answered through the service"
    return fast, slow


def same(client: TestClient, path: str, params: Params | None = None) -> Any:
    """Both answers, which must be the same bytes; the parsed JSON."""
    fast, slow = answers(client, path, params)
    assert (fast.status_code, fast.headers["content-type"]) == (
        slow.status_code,
        slow.headers["content-type"],
    ), f"{path} {params}"
    assert fast.content == slow.content, f"{path} {params}"
    return fast.json()


# -- the simulated month -------------------------------------------------------------------


@pytest.fixture(scope="module")
def month_client(month: monthly.Month) -> Iterator[TestClient]:
    url = month.engine.url.render_as_string(hide_password=False)
    steward = Steward(Settings(database_url=url, mqtt_url="mqtt://127.0.0.1:1"), clock=FakeClock())
    try:
        with TestClient(create_app(steward)) as client:
            client.steward = steward  # type: ignore[attr-defined]
            yield client
    finally:
        steward.stop()


def test_every_ticket_of_the_month_reads_the_same(month_client: TestClient) -> None:
    listed: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = same(month_client, "/api/v1/tickets", params)
        listed += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(listed) > 20
    got = [same(month_client, f"/api/v1/tickets/{t['id']}") for t in listed]
    assert [g["id"] for g in got] == [t["id"] for t in listed]
    # What the month holds, so that the comparison covered it.
    assert any(g["readings_url"] for g in got) and any(g["readings_url"] is None for g in got)
    for field in ("reporter", "follow_up", "escalation", "parent", "linked", "linked_conditions"):
        assert any(t[field] for t in listed), field
        assert any(not t[field] for t in listed), field
    assert any(h["from_status"] for t in listed for h in t["history"])
    assert any(h["data"] for t in listed for h in t["history"])
    assert any(h["note"] is None for t in listed for h in t["history"])
    assert any(lc["cleared_at"] for t in listed for lc in t["linked_conditions"])
    assert all(t["opened_at"].endswith("Z") for t in listed)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"limit": 1},
        {"limit": 7},
        {"limit": 500},
        {"status": "closed"},
        [("status", "open"), ("status", "acknowledged"), ("status", "in_progress")],
        [("status", "resolved"), ("status", "cancelled"), ("limit", 2)],
        {"priority": "emergency"},
        {"priority": "general", "limit": 4},
        {"category": "facility"},
        {"category": "service"},
        {"site": "maple"},
        {"site": "nowhere"},
        {"kind": "elevator"},
        {"kind": "water_pressure", "status": "resolved"},
        {"device": "lift-1"},
        {"site": "maple", "device": "lift-2", "limit": 2},
        {"rule": "elevator.entrapment"},
        {"rule": "water.burst", "priority": "important"},
        {"opened_after": "2026-04-10T00:00:00Z"},
        {"opened_before": "2026-04-10T00:00:00+08:00", "limit": 5},
        {"opened_after": "2026-04-05T00:00Z", "opened_before": "2026-04-20T00:00Z"},
        {"cursor": encode_cursor(10)},
        {"cursor": encode_cursor(10), "limit": 3, "priority": "general"},
        {"cursor": encode_cursor(1)},
        {"cursor": encode_cursor(10**6), "limit": 2},
        # errors, answered the same way
        {"cursor": "not-a-cursor"},
        {"opened_after": "2026-04-10T00:00:00"},
        {"limit": 0},
        {"limit": 501},
        {"status": "lost"},
    ],
)
def test_list_pages_read_the_same(month_client: TestClient, params: Params) -> None:
    page = same(month_client, "/api/v1/tickets", params)
    seen: list[str] = []
    while isinstance(page, dict) and page.get("next_cursor") and len(seen) < 4:
        seen.append(page["next_cursor"])
        more = [*(params.items() if isinstance(params, dict) else params)]
        more = [(k, v) for k, v in more if k != "cursor"] + [("cursor", page["next_cursor"])]
        page = same(month_client, "/api/v1/tickets", more)


def test_errors_of_get_read_the_same(month_client: TestClient) -> None:
    assert same(month_client, "/api/v1/tickets/ST-999999")["error"]["code"] == "ticket_not_found"
    assert same(month_client, "/api/v1/tickets/bad_number!")["error"]["code"] == "validation_error"


# -- awkward stored values ------------------------------------------------------------------


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    clock = FakeClock(local("04-01 09:00").timestamp() + 0.123456)  # times with microseconds
    yield from make_client(database_url, clock)


def _update(client: TestClient, sql: str, **params: Any) -> None:
    with steward_of(client).db.begin() as connection:
        connection.execute(text(sql), params)


def test_awkward_values_read_the_same(client: TestClient) -> None:
    steward = steward_of(client)
    clock: FakeClock = steward.clock  # type: ignore[assignment]
    steward.tickets.apply(decisions=[decision("car1", at=clock.now())])
    clock.advance(61.5)
    steward.tickets.apply(decisions=[decision("car2", at=clock.now())])
    complaint = client.post("/api/v1/tickets", json=COMPLAINT).json()["id"]
    one = "ST-000001"
    # What pydantic reads more leniently than it writes: an escalation whose time carries
    # an offset and whose level is a string, a reporter with spaces around its values.
    escalation: dict[str, Any] = {"level": "2", "roles": ["duty_manager"], "reason": "respond"}
    escalation |= {"at": "2026-04-01T17:00:00.5+08:00", "contacts": [{"name": "Wang"}]}
    _update(
        client,
        "UPDATE tickets SET sla_state = :state WHERE number = :n",
        state=f'{{"escalation": {json.dumps(escalation)}, "breached": ["respond"]}}',
        n=one,
    )
    _update(
        client,
        "UPDATE tickets SET reporter = :r WHERE number = :n",
        r='{"channel": "app", "phone": " 13800000000 ", "name": "Li ", "room": "6-602"}',
        n=complaint,
    )
    # Evidence with what JSON writers tell apart: floats, escapes, non-ASCII, nesting.
    _update(
        client,
        "UPDATE tickets SET evidence = :e WHERE number = 'ST-000002'",
        e='{"z": 1e16, "a": 0.1, "t": "\\u00e9\\u2028\\u0001</", "n": [null, true, {"x": -0.0}],'
        ' "condition_since": "2026-04-01T00:00:00+08:00"}',
    )
    for number in (one, "ST-000002", complaint):
        same(client, f"/api/v1/tickets/{number}")
    page = same(client, "/api/v1/tickets")
    assert page["items"][-1]["escalation"]["at"] == "2026-04-01T09:00:00.500000Z"
    assert page["items"][-1]["escalation"]["level"] == 2
    assert page["items"][0]["reporter"]["name"] == "Li"
    assert page["items"][-1]["opened_at"].endswith(".123456Z")


def test_postgres_session_time_zone_does_not_show(postgres_url: str) -> None:
    """Times are read as UTC whatever the database's ``TimeZone``."""
    clock = FakeClock(local("04-01 09:00").timestamp())
    for client in make_client(postgres_url, clock):
        steward = steward_of(client)
        steward.tickets.apply(decisions=[decision("car1", at=clock.now())])
        database = postgres_url.rsplit("/", 1)[1]
        _update(client, f"ALTER DATABASE \"{database}\" SET TimeZone = 'Asia/Shanghai'")
        steward.db.dispose()  # new connections take the database's setting
        with steward.db.connect() as connection:
            assert connection.execute(text("SHOW TimeZone")).scalar() == "Asia/Shanghai"
        got = same(client, "/api/v1/tickets/ST-000001")
        assert got["opened_at"] == "2026-04-01T01:00:00Z"
        assert same(client, "/api/v1/tickets")["items"][0] == got | {"readings_url": None}


def test_values_the_fast_path_does_not_vouch_for_fail_as_they_did(client: TestClient) -> None:
    """Stored values pydantic refuses are answered through pydantic (the fast path declines,
    ``Declined``), so they fail as they always did, with pydantic's error."""
    steward = steward_of(client)
    steward.tickets.apply(decisions=[decision("car1", at=steward.clock.now())])
    paths = ("/api/v1/tickets/ST-000001", "/api/v1/tickets")
    # A lone surrogate (the standard library's JSON reader takes it; no JSON writer can).
    _update(client, "UPDATE tickets SET evidence = :e", e='{"s": "\\ud800"}')
    for path in paths:
        with pytest.raises(PydanticSerializationError):
            client.get(path)
    _update(client, "UPDATE tickets SET evidence = :e", e='{"s": 1}')
    assert [client.get(path).status_code for path in paths] == [200, 200]
    # A history entry whose data is not an object.
    _update(client, "UPDATE ticket_events SET data = '[1]'")
    for path in paths:
        with pytest.raises(ValidationError):
            client.get(path)


def test_nan_in_stored_json_is_written_as_null(tmp_path: Path) -> None:
    """SQLite keeps what ``json.dumps`` wrote, ``NaN`` included (PostgreSQL refuses it)."""
    for client in make_client(f"sqlite:///{tmp_path / 'nan.db'}", FakeClock()):
        steward_of(client).tickets.apply(decisions=[decision("car1")])
        _update(client, "UPDATE tickets SET evidence = :e", e='{"x": NaN, "y": -Infinity}')
        got = same(client, "/api/v1/tickets/ST-000001")
        assert got["evidence"] == {"x": None, "y": None}
        same(client, "/api/v1/tickets")
