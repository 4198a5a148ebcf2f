"""An SSE stream already open checks its key again as it runs: revoked (through the API), or
given another site scope, it ends within the re-check interval with a comment saying why;
a stream with a key still valid keeps going. The open API's streams end once it gets its
first key. Over a real HTTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update

from api.routes import stream
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tests.api_server import served
from tests.delivery.helpers import open_ticket
from tests.delivery.test_stream import Sse, sse_events
from tickets.api_keys import ApiKey, ApiKeyStore, Role
from tickets.db import write_session

BOOTSTRAP = "bootstrap-secret-for-stream-tests"
RECHECK_S = 0.5
SLACK_S = 3.0
"""What a loaded machine may add to the re-check interval: a poll, a look-up, a thread hop."""
STREAM = "/api/v1/alerts/stream"


@pytest.fixture(autouse=True)
def quick_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "KEY_RECHECK_S", RECHECK_S)


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


def auth(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def until_end(events: Iterator[Sse]) -> tuple[list[Sse], float]:
    """Every event to the end of the stream, and how long the end took to come."""
    start = time.monotonic()
    seen = list(events)
    return seen, time.monotonic() - start


def test_a_revoked_key_s_stream_ends_and_a_valid_one_goes_on(
    steward: Steward, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    keys = ApiKeyStore(steward.sessions, steward.clock)
    revoked, revoked_token = keys.create(
        name="old screen", role=Role.VIEWER, site=None, created_by="t"
    )
    _, kept_token = keys.create(name="new screen", role=Role.VIEWER, site=None, created_by="t")
    with (
        caplog.at_level(logging.INFO, logger="steward.api.stream"),
        served(steward) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
        client.stream("GET", STREAM, headers=auth(revoked_token)) as doomed,
        client.stream("GET", STREAM, headers=auth(kept_token)) as kept,
    ):
        assert (doomed.status_code, kept.status_code) == (200, 200)
        doomed_events = sse_events(doomed.iter_lines())
        kept_events = sse_events(kept.iter_lines())
        assert next(doomed_events).comment.startswith("steward ticket events")
        assert next(kept_events).comment.startswith("steward ticket events")
        time.sleep(3 * RECHECK_S)  # checked, and found valid, a few times
        number = open_ticket(steward.tickets, clock, "lift-1")
        assert next(doomed_events).event == "steward.ticket.opened"

        answer = client.delete(f"/api/v1/keys/{revoked.id}", headers=auth(BOOTSTRAP))
        assert answer.status_code == 200
        rest, took = until_end(doomed_events)
        assert took < RECHECK_S + SLACK_S
        assert [e.comment for e in rest] == [
            f"stream ended: API key stw_{revoked.prefix}_… (old screen) has been revoked"
        ]
        assert revoked_token.split("_", 2)[2] not in caplog.text  # the whole secret
        assert f"stream of stw_{revoked.prefix}" in caplog.text

        again = client.get(STREAM, headers=auth(revoked_token))  # the client's reconnect
        assert again.status_code == 401

        # The valid key's stream saw all of it and still delivers what comes next.
        assert next(kept_events).data.count(number) >= 1
        time.sleep(2 * RECHECK_S)
        later = open_ticket(steward.tickets, clock, "lift-2")
        event = next(kept_events)
        assert (event.event, later in event.data) == ("steward.ticket.opened", True)


def test_a_key_given_another_site_ends_its_stream(steward: Steward) -> None:
    keys = ApiKeyStore(steward.sessions, steward.clock)
    view, token = keys.create(name="oak lobby", role=Role.VIEWER, site="oak", created_by="t")
    with (
        served(steward) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
        client.stream("GET", STREAM, headers=auth(token)) as response,
    ):
        events = sse_events(response.iter_lines())
        next(events)
        with write_session(steward.sessions) as session:  # no API changes a scope: SQL
            session.execute(update(ApiKey).where(ApiKey.id == view.id).values(site="elm"))
        rest, took = until_end(events)
    assert took < RECHECK_S + SLACK_S
    assert [e.comment for e in rest] == [
        f"stream ended: API key stw_{view.prefix}_… (oak lobby) is now for site 'elm': "
        "connect again"
    ]


def test_the_open_api_s_stream_ends_with_its_first_key(database_url: str, clock: FakeClock) -> None:
    demo = make(database_url, clock)
    try:
        with (
            served(demo) as base_url,
            httpx.Client(base_url=base_url, timeout=10) as client,
            client.stream("GET", STREAM) as response,
        ):
            assert response.status_code == 200
            events = sse_events(response.iter_lines())
            next(events)
            time.sleep(2 * RECHECK_S)
            made = client.post("/api/v1/keys", json={"name": "first", "role": "admin"})
            assert made.status_code == 201
            rest, took = until_end(events)
        assert took < RECHECK_S + SLACK_S
        assert [e.comment for e in rest] == [
            "stream ended: the API is no longer open: API keys are required now"
        ]
    finally:
        demo.stop()


def test_the_bootstrap_key_s_stream_goes_on(steward: Steward, clock: FakeClock) -> None:
    with (
        served(steward) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
        client.stream("GET", STREAM, headers=auth(BOOTSTRAP)) as response,
    ):
        events = sse_events(response.iter_lines())
        next(events)
        time.sleep(3 * RECHECK_S)
        number = open_ticket(steward.tickets, clock, "lift-3")
        event = next(events)
        assert event.event == "steward.ticket.opened" and number in event.data
