"""Prometheus metrics for delivery, collected at scrape time from the dispatcher's counters
and the delivery tables (register with ``registry.register(DeliveryCollector(...))``)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from delivery.dispatcher import Dispatcher
from delivery.models import Delivery
from tickets.db import read_session


class DeliveryCollector(Collector):
    def __init__(self, dispatcher: Dispatcher, sessions: sessionmaker[Session]) -> None:
        self.dispatcher = dispatcher
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            "steward_delivery_attempts",
            "Delivery attempts by this process, by endpoint and reason (ok = delivered)",
            labels=["endpoint", "reason"],
        )
        for (endpoint, reason), count in sorted(self.dispatcher.stats.attempts.items()):
            attempts.add_metric([endpoint, reason], count)
        yield attempts
        errors = CounterMetricFamily(
            "steward_delivery_errors",
            "Dispatcher passes that failed before sending (database away, bugs)",
            labels=["endpoint", "reason"],
        )
        for (endpoint, reason), count in sorted(self.dispatcher.stats.errors.items()):
            errors.add_metric([endpoint, reason], count)
        yield errors
        queued = GaugeMetricFamily(
            "steward_deliveries", "Deliveries by endpoint and status", labels=["endpoint", "status"]
        )
        with read_session(self.sessions) as session:
            rows = session.execute(
                select(Delivery.endpoint, Delivery.status, func.count()).group_by(
                    Delivery.endpoint, Delivery.status
                )
            ).all()
        for endpoint, status, count in sorted(rows):
            queued.add_metric([endpoint, status], count)
        yield queued
