"""``GET /api/v1/alerts/stream`` over a real HTTP server: an SSE client that disconnects and
resumes with ``Last-Event-ID`` misses nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from api.routes import stream as stream_route
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from tests.api_server import served
from tests.delivery.helpers import open_ticket, outbox
from tickets.lifecycle import TicketAction


@dataclass(frozen=True)
class Sse:
    id: str | None
    event: str | None
    data: str
    comment: str


def sse_events(lines: Iterator[str]) -> Iterator[Sse]:
    """A small SSE parser (WHATWG HTML, 'event stream interpretation')."""
    fields: dict[str, str] = {}
    comment = ""
    for line in lines:
        if line == "":
            if fields or comment:
                yield Sse(fields.get("id"), fields.get("event"), fields.get("data", ""), comment)
            fields, comment = {}, ""
        elif line.startswith(":"):
            comment += line[1:].strip()
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            joined = name == "data" and name in fields
            fields[name] = f"{fields[name]}\n{value}" if joined else value


@pytest.fixture
def api_url(database_url: str, clock: FakeClock) -> Iterator[tuple[str, Steward]]:
    steward = Steward(
        Settings(database_url=database_url, mqtt_url="mqtt://127.0.0.1:1"), clock=clock
    )
    try:
        with served(steward) as base_url:
            yield f"{base_url}/api/v1/alerts/stream", steward
    finally:
        steward.stop()


def test_a_client_that_reconnects_with_last_event_id_misses_nothing(
    api_url: tuple[str, Steward], clock: FakeClock
) -> None:
    url, steward = api_url
    service = steward.tickets
    seen: list[Sse] = []
    with httpx.Client(timeout=10) as client:
        with client.stream("GET", url) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = sse_events(response.iter_lines())
            assert next(stream).comment.startswith("steward ticket events after 0")
            for i in range(10):  # committed after the stream started: it sees them
                open_ticket(service, clock, f"lift-{i}")
            for event in stream:
                seen.append(event)
                if len(seen) == 4:
                    break  # the client goes away mid-stream
        for i in range(10):
            service.act(number=f"ST-{i + 1:06d}", action=TicketAction.ACKNOWLEDGE, actor="a")
        headers = {"Last-Event-ID": str(seen[-1].id)}
        with client.stream("GET", url, headers=headers) as response:
            stream = sse_events(response.iter_lines())
            assert next(stream).comment.endswith(f"after {seen[-1].id}")
            for event in stream:
                seen.append(event)
                if len(seen) == 20:
                    break
        bad = client.get(url, headers={"Last-Event-ID": "not-a-number"})
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "validation_error"
    events = outbox(service)
    assert [e.id for e in seen] == [str(e.pk) for e in events]
    assert [e.event for e in seen] == [e.type.value for e in events]
    assert [json.loads(e.data)["id"] for e in seen] == [e.event_id for e in events]


def test_a_position_past_every_id_waits_for_events_instead_of_failing(
    api_url: tuple[str, Steward],
) -> None:
    """Over 2**31 PostgreSQL refused the outbox query (integer out of range) and the stream
    broke off after its first comment; found by the schema fuzzer."""
    url, _ = api_url
    with (
        httpx.Client(timeout=1) as client,
        client.stream("GET", url, headers={"Last-Event-ID": "99999999999"}) as response,
    ):
        assert response.status_code == 200
        stream = sse_events(response.iter_lines())
        assert next(stream).comment.endswith("after 2147483647")
        with pytest.raises(httpx.ReadTimeout):  # still open, nothing after it
            next(stream)


def test_a_commit_wakes_the_stream_without_waiting_for_the_poll(
    api_url: tuple[str, Steward], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change this process commits is sent at once (``steward.commits``), not at the next
    outbox poll: with the poll set to a minute, each event still comes within seconds."""
    monkeypatch.setattr(stream_route, "POLL_INTERVAL_S", 60.0)
    url, steward = api_url
    with httpx.Client(timeout=10) as client, client.stream("GET", url) as response:
        stream = sse_events(response.iter_lines())
        assert next(stream).comment.startswith("steward ticket events after")
        for i in range(3):
            time.sleep(0.2)  # the stream is waiting (it read the empty outbox)
            started = time.monotonic()
            number = open_ticket(steward.tickets, clock, f"lift-{i}")
            event = next(stream)
            assert json.loads(event.data)["subject"] == number
            assert time.monotonic() - started < 10.0  # well before the 60 s poll
