"""The InfluxDB end of the sink: where to write, the writer (``influxdb-client``), and which
failures are worth retrying."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, cast

_REJECTED_STATUS = frozenset({400, 413, 422})


@dataclass(frozen=True)
class InfluxTarget:
    url: str
    token: str
    org: str
    bucket: str
    timeout_s: float = 10.0


class LineWriter(Protocol):
    """Writes one batch of line protocol (ms precision) or raises."""

    def write(self, body: bytes) -> None: ...

    def close(self) -> None: ...


class ClientWriter:
    """``influxdb-client`` in synchronous mode: one gzip'd POST to ``/api/v2/write`` per
    batch. (Its batching ``WriteApi`` drops batches when retries run out and has no disk
    buffer: python-stack-research.md §4; we batch and spool ourselves.)"""

    def __init__(self, target: InfluxTarget) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient  # noqa: PLC0415
        from influxdb_client.client.write_api import SYNCHRONOUS  # noqa: PLC0415
        from influxdb_client.domain.write_precision import WritePrecision  # noqa: PLC0415

        self.target = target
        self.client = InfluxDBClient(
            url=target.url,
            token=target.token,
            org=target.org,
            timeout=int(target.timeout_s * 1000),
            enable_gzip=True,
        )
        self._api = self.client.write_api(write_options=SYNCHRONOUS)
        self._precision = cast("WritePrecision", WritePrecision.MS)  # a str constant there

    def write(self, body: bytes) -> None:
        self._api.write(
            bucket=self.target.bucket,
            org=self.target.org,
            record=body,
            write_precision=self._precision,
        )

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]
        self.client.close()  # type: ignore[no-untyped-call]


class Outcome(StrEnum):
    WRITTEN = "written"
    REJECTED = "rejected"
    RETRY = "retry"


def classify(exc: BaseException) -> tuple[Outcome, float | None]:
    """Retryability as data: (outcome, server-requested delay in seconds or None).

    Refused as invalid (400, 413, 422): retrying cannot help. Everything else is retried,
    including 401/403/404 (a wrong token or a missing bucket is fixed by an operator, and the
    readings should still be there when they do) and connection errors and timeouts."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status in _REJECTED_STATUS:
        return Outcome.REJECTED, None
    headers = getattr(exc, "headers", None) or {}
    retry_after = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        delay = float(retry_after) if retry_after is not None else None
    except ValueError:
        delay = None
    return Outcome.RETRY, delay
