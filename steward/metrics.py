"""Prometheus metrics, collected at scrape time from plain counters: the hot path only adds
integers, it never touches a metrics library."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from steward.runtime import Steward


class StewardCollector(Collector):
    def __init__(self, steward: Steward) -> None:
        self.steward = steward

    def collect(self) -> Iterator[Metric]:
        s = self.steward
        stats = s.gateway.stats
        messages = CounterMetricFamily(
            "steward_mqtt_messages", "MQTT messages received", labels=["outcome"]
        )
        accepted = sum(s.decoder.accepted.values())
        messages.add_metric(["accepted"], accepted)
        messages.add_metric(["rejected"], sum(s.decoder.rejected.values()))
        yield messages
        by_kind = CounterMetricFamily(
            "steward_readings", "Accepted messages by kind", labels=["kind"]
        )
        for kind, count in sorted(s.decoder.accepted.items()):
            by_kind.add_metric([kind], count)
        yield by_kind
        rejected = CounterMetricFamily(
            "steward_messages_rejected", "Rejected messages by reason", labels=["reason"]
        )
        for reason, count in sorted(s.decoder.rejected.items()):
            rejected.add_metric([reason.value], count)
        yield rejected
        evaluation = SummaryMetricFamily(
            "steward_rule_evaluation_seconds", "Time spent evaluating rules per message"
        )
        evaluation.add_metric([], stats.rule_evals, stats.rule_eval_seconds)
        yield evaluation
        opened = CounterMetricFamily(
            "steward_tickets_opened", "Tickets opened", labels=["priority", "source"]
        )
        for (priority, source), count in sorted(s.tickets_opened_counts().items()):
            opened.add_metric([priority, source], count)
        yield opened
        yield GaugeMetricFamily(
            "steward_mqtt_connected", "1 while connected to the broker", value=int(stats.connected)
        )
        yield CounterMetricFamily(
            "steward_mqtt_reconnects", "Successful MQTT connects", value=stats.connects
        )
        yield GaugeMetricFamily(
            "steward_decisions_pending",
            "Decisions waiting to be committed",
            value=s.writer.pending(),
        )
        yield GaugeMetricFamily(
            "steward_devices_tracked", "Devices with live rule state", value=len(s.engine.devices)
        )


def make_registry(steward: Steward) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StewardCollector(steward))
    return registry
