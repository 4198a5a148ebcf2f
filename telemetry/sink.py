"""The one interface every telemetry sink offers Steward and the API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from gateway.reading import Reading
from telemetry.query import DeviceSeries


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters in readings (one reading = one point = one row).

    Every reading handed to ``add`` is in exactly one place: ``received == written + expired
    + buffered + spooled + dropped + rejected`` at any moment nothing is in transit.
    """

    received: int = 0
    written: int = 0
    buffered: int = 0
    """In memory now: waiting to be batched, queued, or being written."""
    spooled: int = 0
    """On disk now: waiting for the server to come back, or overflow of the buffer waiting
    for the older readings to be queued (InfluxDB)."""
    dropped: int = 0
    """Lost; always logged at ERROR. InfluxDB: only when the disk spool is full (or its disk
    fails). Embedded store: when its in-memory buffer overflows."""
    rejected: int = 0
    """Refused by the server as invalid; retrying could not help."""
    replayed: int = 0
    """Written from the spool after an outage (also counted in ``written``)."""
    spooled_total: int = 0
    """Ever put in the spool, overflow included."""
    overflowed: int = 0
    """Found the in-memory buffer full (or arrived while it was catching up) and went to the
    disk spool from ``add`` instead (InfluxDB; counted in ``spooled`` or ``buffered`` too,
    not lost). Not 0 means the batcher fell a whole buffer behind; logged at WARNING."""
    failures: int = 0
    expired: int = 0
    """Older than the retention when it arrived (embedded store): not kept."""
    healthy: bool = True
    last_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TelemetryQuery(Protocol):
    def readings(
        self,
        *,
        site: str,
        device: str,
        start: float,
        end: float,
        fields: Sequence[str] | None = None,
        step_s: float | None = None,
        limit: int = 10_000,
    ) -> DeviceSeries:
        """A device's readings in [start, end] (epoch seconds): raw, or averaged per ``step_s``
        bucket; ``limit`` bounds the raw readings (``truncated`` says when it cut)."""
        ...


class TelemetrySink(TelemetryQuery, Protocol):
    description: str

    def add(self, reading: Reading) -> None:
        """From the gateway thread, for every accepted reading: never blocks, never raises."""
        ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None:
        """Flush (to the store, the server or the spool), then stop the threads."""
        ...

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every reading accepted so far is stored (or spooled)."""
        ...

    @property
    def stats(self) -> SinkStats: ...

    @property
    def healthy(self) -> bool: ...
