"""Prometheus metrics of a telemetry sink, read from its counters at scrape time.

Register beside Steward's own: ``registry.register(TelemetryCollector(sink))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from telemetry.sink import TelemetrySink


class TelemetryCollector(Collector):
    def __init__(self, sink: TelemetrySink) -> None:
        self.sink = sink

    def collect(self) -> Iterator[Metric]:
        stats = self.sink.stats
        readings = CounterMetricFamily(
            "steward_telemetry_readings",
            "Readings handed to the telemetry sink, by where they ended up",
            labels=["outcome"],
        )
        for outcome in ("written", "dropped", "rejected", "expired"):
            readings.add_metric([outcome], getattr(stats, outcome))
        yield readings
        yield GaugeMetricFamily(
            "steward_telemetry_buffered", "Readings in memory, not yet stored", value=stats.buffered
        )
        yield GaugeMetricFamily(
            "steward_telemetry_spooled",
            "Readings in the disk spool, waiting for InfluxDB",
            value=stats.spooled,
        )
        yield CounterMetricFamily(
            "steward_telemetry_overflowed",
            "Readings that found the in-memory buffer full and went to the disk spool",
            value=stats.overflowed,
        )
        yield CounterMetricFamily(
            "steward_telemetry_write_failures",
            "Failed writes to the telemetry store (retried)",
            value=stats.failures,
        )
        yield GaugeMetricFamily(
            "steward_telemetry_healthy",
            "1 while the last write to the telemetry store succeeded",
            value=int(stats.healthy),
        )
