"""Telemetry storage: every accepted reading, kept for the readings API and dashboards.

The gateway hands each reading to a sink's ``add`` (never blocking its thread); the sink
batches in a thread of its own into InfluxDB (``influx``, with a disk spool for outages) or,
with no InfluxDB configured, into the embedded SQLite store (``embedded``, with retention).
``make_sink`` picks one from the settings; both answer ``readings`` queries for the API.
"""

from telemetry.embedded import EmbeddedStore
from telemetry.factory import TelemetryConfigError, make_sink
from telemetry.influx import InfluxSink
from telemetry.influx_client import InfluxTarget
from telemetry.query import DeviceSeries, QueryError, SeriesPoint
from telemetry.sink import SinkStats, TelemetryQuery, TelemetrySink

__all__ = [
    "DeviceSeries",
    "EmbeddedStore",
    "InfluxSink",
    "InfluxTarget",
    "QueryError",
    "SeriesPoint",
    "SinkStats",
    "TelemetryConfigError",
    "TelemetryQuery",
    "TelemetrySink",
    "make_sink",
]
