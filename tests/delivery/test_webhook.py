"""Webhooks against a real receiver on loopback, on SQLite and PostgreSQL, time on a
``FakeClock``: what each kind of answer does (timeline tests, driven pass by pass)."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy.orm import Session, sessionmaker

from delivery.log import DeliveryLog
from delivery.models import DeliveryStatus
from steward.clock import FakeClock
from tests.delivery.helpers import SECRET, dispatcher, drain, open_ticket, outbox, webhook_route
from tests.delivery.receiver import Received, Receiver, Reply, always
from tests.delivery.standard_webhooks import verify
from tickets.lifecycle import TicketAction
from tickets.service import TicketService

HOUR = 3600.0


def test_events_arrive_as_signed_cloudevents_in_order(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    route = webhook_route(receiver.url, secrets=[SECRET, "old-raw-secret"])
    with dispatcher(sessions, clock, route) as d:
        number = open_ticket(service, clock, "lift-1")
        service.act(number=number, action=TicketAction.ACKNOWLEDGE, actor="duty")
        assert drain(d) == 2
    events = outbox(service)
    assert [r.webhook_id for r in receiver.received] == [e.event_id for e in events]
    for request, event in zip(receiver.received, events, strict=True):
        assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
        assert json.loads(request.body) == event.payload
        assert request.headers["webhook-timestamp"] == str(int(clock.now()))
        verify(SECRET, request.headers, request.body, now=clock.now())
        verify("old-raw-secret", request.headers, request.body, now=clock.now())
    page = DeliveryLog(sessions, clock).list(endpoint="hook")
    assert [(v.status, v.attempts, v.last_status_code) for v in page.items] == [
        ("delivered", 1, 200),
        ("delivered", 1, 200),
    ]
    assert page.items[0].history[0].latency_ms > 0


def test_500_then_200_retries_with_backoff_on_the_injected_clock(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    receiver.script = lambda _r, n: Reply(500, b"oops") if n == 0 else Reply(200)
    with dispatcher(sessions, clock, webhook_route(receiver.url)) as d:
        open_ticket(service, clock, "lift-1")
        assert d.run_once() == 1
        assert d.run_once() == 0  # not due yet: nothing is sent in a busy loop
        [view] = DeliveryLog(sessions, clock).list().items
        assert view.status == "pending"
        assert view.next_attempt_at is not None
        assert 0 <= view.next_attempt_at.timestamp() - clock.now() <= d.policy.base_s
        clock.advance(d.policy.base_s)
        assert drain(d) == 1
    [view] = DeliveryLog(sessions, clock).list().items
    assert view.status == "delivered"
    assert [(a.status_code, a.reason, a.outcome) for a in view.history] == [
        (500, "http_5xx", "retry"),
        (200, "ok", "delivered"),
    ]
    assert view.history[0].detail == "oops"
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id  # a retry, recognisable as such
    assert d.stats.attempts[("hook", "http_5xx")] == 1


def test_slow_past_the_timeout_is_retried(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    receiver.script = lambda _r, n: Reply(200, delay_s=1.5 if n == 0 else 0.0)
    with dispatcher(sessions, clock, webhook_route(receiver.url, timeout_s=0.3)) as d:
        open_ticket(service, clock, "lift-1")
        assert d.run_once() == 1
        clock.advance(HOUR)
        assert drain(d) == 1
    [view] = DeliveryLog(sessions, clock).list().items
    assert [a.reason for a in view.history] == ["timeout", "ok"]
    assert 250 <= view.history[0].latency_ms < 1400
    assert view.status == "delivered"


DRIPS = {
    # 15 header lines, one every 0.2 s: no single read waits 0.5 s, the answer takes 3 s
    "headers": Reply(headers={f"x-filler-{i}": "." for i in range(15)}, drip_headers_s=0.2),
    # a 200 at once, then its body a byte every 0.2 s: the status is not the delivery
    "body": Reply(body=b'{"ok": true, "padding": "............"}', drip_body_s=0.2),
}


@pytest.mark.parametrize("drip", sorted(DRIPS))
def test_a_receiver_dripping_its_answer_times_out_at_the_deadline_and_is_retried(
    drip: str,
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    """``timeout_s`` bounds the whole call, not each network read (httpx's own timeouts)."""
    receiver.script = lambda _r, n: DRIPS[drip] if n == 0 else Reply()
    log = DeliveryLog(sessions, clock)
    with dispatcher(sessions, clock, webhook_route(receiver.url, timeout_s=0.5)) as d:
        open_ticket(service, clock, "lift-1")
        started = time.monotonic()
        assert d.run_once() == 1
        elapsed = time.monotonic() - started
        [view] = log.list().items
        assert view.status == "pending"
        assert [(a.reason, a.outcome, a.status_code) for a in view.history] == [
            ("timeout", "retry", None)
        ]
        assert 450 <= view.history[0].latency_ms < 800
        assert elapsed < 1.5  # the drip alone would take 3 s or more
        clock.advance(HOUR)
        assert drain(d) == 1
    [view] = log.list().items
    assert view.status == "delivered"
    assert [a.reason for a in view.history] == ["timeout", "ok"]
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id


def test_410_disables_the_endpoint_until_it_is_enabled_again(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    receiver.script = always(Reply(410, b"gone"))
    log = DeliveryLog(sessions, clock)
    with dispatcher(sessions, clock, webhook_route(receiver.url)) as d:
        open_ticket(service, clock, "lift-1")
        open_ticket(service, clock, "lift-2")
        assert d.run_once() == 2
        health = log.endpoint("hook")
        assert (health.state, health.failed) == ("disabled", 2)
        assert health.disabled_reason is not None
        assert "410" in health.disabled_reason
        open_ticket(service, clock, "lift-3")
        clock.advance(HOUR)
        assert drain(d) == 0  # nothing goes to a disabled endpoint; it queues
        assert log.endpoint("hook").pending == 1
        receiver.script = always(Reply(200))
        assert log.enable("hook").state == "healthy"  # nothing waits on a failure
        assert drain(d) == 1
    assert len(receiver.received) == 3
    assert log.endpoint("hook").state == "healthy"


def test_400_fails_with_the_response_recorded_and_the_ticket_moves_on(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    receiver.script = lambda _r, n: Reply(400, b'{"error": "unknown field"}') if n == 0 else Reply()
    log = DeliveryLog(sessions, clock)
    with dispatcher(sessions, clock, webhook_route(receiver.url)) as d:
        number = open_ticket(service, clock, "lift-1")
        service.act(number=number, action=TicketAction.ACKNOWLEDGE, actor="duty")
        assert drain(d) == 2
        failed, delivered = sorted(log.list().items, key=lambda v: v.id)
        assert (failed.status, failed.last_status_code) == ("failed", 400)
        assert failed.history[0].detail == '{"error": "unknown field"}'
        assert delivered.status == "delivered"
        assert log.endpoint("hook").failed == 1
        assert log.replay(failed.id).status == "pending"  # an operator sends it again
        assert drain(d) == 1
        assert log.get(failed.id).status == "delivered"
        assert log.replay_failed("hook") == 0
    assert [r.webhook_id for r in receiver.received][-1] == failed.event_id


def test_retry_after_is_honoured(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    receiver.script = lambda _r, n: (
        Reply(429, headers={"Retry-After": "120"}) if n == 0 else Reply()
    )
    with dispatcher(sessions, clock, webhook_route(receiver.url)) as d:
        open_ticket(service, clock, "lift-1")
        assert d.run_once() == 1
        clock.advance(119)
        assert drain(d) == 0
        clock.advance(d.policy.base_s + 1)
        assert drain(d) == 1


def test_a_ticket_waits_behind_its_own_retrying_event_but_others_do_not(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    failed_once: list[str] = []

    def script(request: Received, _n: int) -> Reply:
        if b'"subject":"ST-000001"' in request.body and not failed_once:
            failed_once.append(request.webhook_id)
            return Reply(503)
        return Reply()

    receiver.script = script
    with dispatcher(sessions, clock, webhook_route(receiver.url)) as d:
        a = open_ticket(service, clock, "lift-1")
        service.act(number=a, action=TicketAction.ACKNOWLEDGE, actor="duty")
        open_ticket(service, clock, "lift-2")
        a_open, a_ack, b_open = (e.event_id for e in outbox(service))
        assert drain(d) == 2  # a's first (503) and b's: a's second waits its turn
        assert sorted(receiver.ids()) == sorted([a_open, b_open])
        clock.advance(HOUR)
        assert drain(d) == 2
    assert receiver.ids()[2:] == [a_open, a_ack]
    assert failed_once == [a_open]


def test_filters_and_late_endpoints(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    open_ticket(service, clock, "before")  # before the endpoint existed: not for it
    route = webhook_route(receiver.url, filter={"sites": ["maple"], "events": ["opened"]})
    with dispatcher(sessions, clock, route) as d:
        number = open_ticket(service, clock, "lift-1")
        service.act(number=number, action=TicketAction.ACKNOWLEDGE, actor="duty")
        open_ticket(service, clock, "lift-2", site="oak")
        assert drain(d) == 1
    [request] = receiver.received
    assert json.loads(request.body)["subject"] == number
    assert DeliveryLog(sessions, clock).endpoint("hook").delivered == 1


def test_every_attempt_status_is_one_of_three(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    with dispatcher(sessions, clock, webhook_route(receiver.url)) as d:
        open_ticket(service, clock, "lift-1")
        drain(d)
    statuses = {v.status for v in DeliveryLog(sessions, clock).list().items}
    assert statuses <= {s.value for s in DeliveryStatus}


def test_metrics_count_attempts_by_reason(
    service: TicketService,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    receiver: Receiver,
) -> None:
    from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415

    from delivery.metrics import DeliveryCollector  # noqa: PLC0415

    receiver.script = lambda _r, n: Reply(500) if n == 0 else Reply()
    with dispatcher(sessions, clock, webhook_route(receiver.url)) as d:
        open_ticket(service, clock, "lift-1")
        d.run_once()
        clock.advance(HOUR)
        drain(d)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DeliveryCollector(d, sessions))
        text = generate_latest(registry).decode()
    assert 'steward_delivery_attempts_total{endpoint="hook",reason="http_5xx"} 1.0' in text
    assert 'steward_delivery_attempts_total{endpoint="hook",reason="ok"} 1.0' in text
    assert 'steward_deliveries{endpoint="hook",status="delivered"} 1.0' in text
