"""InfluxDB sink: line protocol through ``influxdb-client``, batched, gzip, never losing a
reading to an outage.

Two threads, so the gateway never waits and the network never stalls encoding:

- the **batcher** takes readings from the ``ReadingBuffer`` in batches (by size or age),
  encodes them and queues the batch in memory, or on the disk spool when the memory queue is
  full or the spool is not empty (a newer batch must never overtake a spooled one);
- the **sender** writes the oldest batch: first the memory queue, then the spool. When a write
  fails in a way worth retrying, every batch still in memory moves to the front of the spool,
  and the sender retries the spool's oldest segment with jittered backoff until the server
  answers, then replays the spool in order.

When the gateway outruns the batcher by a whole buffer (the batcher stuck on a slow disk,
starved of CPU, or dead), ``add`` **overflows to disk** itself: from then on every reading
goes to an overflow list, and each ``batch_size`` of them is encoded and written to the
spool's overflow area by the gateway thread: a bounded local write (never the network, and
no lock another thread holds while it writes to disk). Handing the overflow to the batcher
instead would mean unbounded memory or drops, since the batcher is the thread that is
behind. The overflow is newer than what the buffer still holds, so the batcher moves it to
the back of the spool's queue only once the buffer is empty; then the gateway goes back to
the buffer. Nothing that overflowed overtakes an older reading.

Readings are dropped only when the spool is at its size limit (or its disk fails): counted
and logged at ERROR. Batches the server refuses as invalid (400, 413, 422) cannot succeed on
retry: they are counted as rejected and logged with the server's answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.mqtt import backoff_delay
from gateway.reading import Reading
from steward.clock import Clock
from telemetry.buffer import LoudDrops, ReadingBuffer
from telemetry.flux import FluxReader
from telemetry.influx_client import (
    ClientWriter,
    InfluxTarget,
    LineWriter,
    Outcome,
    classify,
)
from telemetry.lineproto import BuildingOf, LineEncoder
from telemetry.query import DeviceSeries, QueryError
from telemetry.sink import SinkStats
from telemetry.spool import Segment, Spool

log = logging.getLogger("steward.telemetry")


@dataclass
class _Batch:
    body: bytes
    lines: int


class InfluxSink:
    def __init__(
        self,
        target: InfluxTarget,
        *,
        clock: Clock,
        spool_dir: Path,
        building_of: BuildingOf | None = None,
        batch_size: int = 5000,
        flush_interval_s: float = 1.0,
        buffer_readings: int = 100_000,
        memory_readings: int = 100_000,
        spool_max_bytes: int = 1 << 30,
        retry_max_s: float = 30.0,
        writer: LineWriter | None = None,
        fsync: bool = True,
    ) -> None:
        self.target = target
        self.clock = clock
        self.description = f"InfluxDB {target.url} (org {target.org}, bucket {target.bucket})"
        self.buffer = ReadingBuffer(
            capacity=buffer_readings, batch_size=batch_size, flush_interval_s=flush_interval_s
        )
        self.encoder = LineEncoder(building_of)
        self._overflow_encoder = LineEncoder(building_of)  # the gateway thread's own
        self.spool = Spool(spool_dir, max_bytes=spool_max_bytes, fsync=fsync)
        self.retry_max_s = retry_max_s
        self._writer = writer
        self._memory: deque[_Batch] = deque()
        self._memory_lines = 0
        self._memory_limit = memory_readings
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._stop_deadline = float("inf")
        self._threads: list[threading.Thread] = []
        self._drops = LoudDrops(f"telemetry to {target.url}")
        # Overflow (see the module's docstring): the gateway thread's, under _overflow_lock.
        self._overflow_lock = threading.Lock()
        self._overflowing = False
        self._overflow: list[Reading] = []
        self._overflow_lines = 0  # in memory: the list, and readings on their way out of it
        self._overflowed = 0
        self._overflow_spooled = 0
        self._overflow_logged = -float("inf")
        self._received = 0
        self._written = 0
        self._rejected = 0
        self._replayed = 0
        self._spooled_total = 0
        self._failures = 0
        self._healthy = True
        self._last_error = ""
        self._attempt = 0
        self._retry_after: float | None = None

    # -- the gateway's entry point -------------------------------------------------------------
    def add(self, reading: Reading) -> None:
        self._received += 1
        if self._overflowing or not self.buffer.add(reading):
            self._overflow_add(reading)

    def _overflow_add(self, reading: Reading) -> None:
        """The buffer is full, or was and the batcher has not caught up yet: to disk."""
        try:
            with self._overflow_lock:
                if not self._overflowing:
                    if self.buffer.add(reading):  # the batcher ended an overflow meanwhile
                        return
                    self._overflowing = True
                self._overflowed += 1
                self._overflow.append(reading)
                self._overflow_lines += 1
                if self._overflowed == 1 or len(self._overflow) == 1:
                    self._say_overflowing()
                if len(self._overflow) >= self.buffer.batch_size:
                    self._overflow_to_disk()
        except Exception:  # add never raises; the readings are in the list or counted
            log.exception("telemetry overflow to disk failed")

    def _say_overflowing(self) -> None:
        now = time.monotonic()
        if now - self._overflow_logged >= 10.0:
            self._overflow_logged = now
            log.warning(
                "telemetry to %s: in-memory buffer full (%d readings), the batcher is behind: "
                "new readings go to the disk spool %s (%d so far)",
                self.target.url,
                self.buffer.capacity,
                self.spool.directory,
                self._overflowed,
            )

    def _overflow_to_disk(self) -> None:
        """Under ``_overflow_lock``, on the gateway thread: encode the list, spool it."""
        readings, self._overflow = self._overflow, []
        body = self._encode(self._overflow_encoder, readings)
        lines = body.count(b"\n") + 1 if body else 0
        try:
            stored = self.spool.overflow(body, lines) if lines else True
        except Exception as exc:  # the disk: count the loss, never raise into the gateway
            stored = False
            self._drops.drop(lines, f"disk spool unwritable: {exc!r}")
        else:
            if stored:
                self._overflow_spooled += lines
            else:
                self._drops.drop(lines, f"disk spool full ({self.spool.max_bytes} bytes)")
        self._overflow_lines -= len(readings)

    def _end_overflow(self) -> None:
        """Batcher (or ``stop``), once everything older is queued: the overflow on disk to the
        back of the queue, the list after it, and the gateway back to the buffer."""
        self.spool.promote()  # the bulk, without holding up the gateway
        with self._overflow_lock:
            late = self.spool.detach_overflow()  # what the gateway wrote meanwhile
            readings, self._overflow = self._overflow, []
            self._overflowing = False
        try:
            self.spool.promote(late)
        except Exception:  # the disk: what is left there is queued later, or after a restart
            log.exception("moving the telemetry overflow to the spool's queue failed")
        if readings:
            body = self._encode(self.encoder, readings)
            with self._cond:
                self._enqueue(_Batch(body, body.count(b"\n") + 1 if body else 0))
            with self._overflow_lock:
                self._overflow_lines -= len(readings)
        with self._cond:
            self._cond.notify_all()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._writer is None:
            self._writer = ClientWriter(self.target)
        for name, target in (("batcher", self._batch_loop), ("sender", self._send_loop)):
            thread = threading.Thread(target=target, name=f"steward-influx-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("telemetry to %s", self.description)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is buffered; what the server does not take in ``timeout`` is spooled."""
        self._stop_deadline = time.monotonic() + timeout
        self._stopping.set()
        self.buffer.close()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout + 5)
        self._threads.clear()
        if self._overflowing:  # the batcher did not get to it (or never ran)
            try:
                self._end_overflow()
            except Exception:  # what is on disk is promoted by the next process
                log.exception("moving the telemetry overflow to the spool's queue failed")
        self._park_memory()  # whatever the sender could not finish
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every reading accepted so far is written or spooled."""
        deadline = time.monotonic() + timeout
        self.buffer.hurry()
        try:
            with self._cond:
                while self.buffered:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(min(remaining, 0.05))
            return True
        finally:
            self.buffer.calm()

    # -- state -----------------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        """Readings in memory: waiting to be encoded (in the buffer or the overflow list),
        queued, or being written."""
        return len(self.buffer) + self._overflow_lines + self._memory_lines

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def stats(self) -> SinkStats:
        return SinkStats(
            received=self._received,
            written=self._written,
            buffered=self.buffered,
            spooled=self.spool.lines,
            dropped=self._drops.count,
            rejected=self._rejected,
            replayed=self._replayed,
            spooled_total=self._spooled_total + self._overflow_spooled,
            overflowed=self._overflowed,
            failures=self._failures,
            healthy=self._healthy,
            last_error=self._last_error,
        )

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
        """Through Flux (``/api/v2/query``): needs a real InfluxDB 2.x (see docs/deployment.md)."""
        writer = self._writer
        if not isinstance(writer, ClientWriter):
            raise QueryError("readings come through Flux, which needs the started sink")
        return FluxReader(writer.client, self.target.bucket, self.target.org).readings(
            site=site,
            device=device,
            start=start,
            end=end,
            fields=fields,
            step_s=step_s,
            limit=limit,
        )

    # -- batcher thread --------------------------------------------------------------------------
    def _batch_loop(self) -> None:
        while True:
            readings = self.buffer.next_batch()
            if not readings:
                if self.buffer.closed:
                    return
                continue
            body = self._encode(self.encoder, readings)
            with self._cond:
                self._enqueue(_Batch(body, body.count(b"\n") + 1 if body else 0))
                self.buffer.release()
                self._cond.notify_all()
            while self._overflowing and not len(self.buffer):
                try:
                    self._end_overflow()
                except Exception:  # the spool's disk: the gateway keeps spilling; try again
                    log.exception("moving the telemetry overflow to the spool's queue failed")
                    if self._stopping.wait(1.0):
                        break

    def _encode(self, encoder: LineEncoder, readings: list[Reading]) -> bytes:
        try:
            return encoder.lines(readings)
        except Exception:  # a reading the encoder cannot handle must not stop the others
            log.exception("encoding a telemetry batch failed; encoding one by one")
            return self._encode_each(encoder, readings)

    def _encode_each(self, encoder: LineEncoder, readings: list[Reading]) -> bytes:
        lines = []
        for reading in readings:
            try:
                lines.append(encoder.line(reading))
            except Exception as exc:
                self._rejected += 1
                self._last_error = f"encoding {reading.ref.key}: {exc!r}"
        return "\n".join(lines).encode()

    def _enqueue(self, batch: _Batch) -> None:
        """Under ``_cond``: memory while nothing is spooled and there is room, else spool."""
        if not batch.lines:
            return
        if not self.spool and self._memory_lines + batch.lines <= self._memory_limit:
            self._memory.append(batch)
            self._memory_lines += batch.lines
            return
        try:
            spooled = self.spool.append(batch.body, batch.lines)
        except OSError as exc:
            self._drops.drop(batch.lines, f"disk spool unwritable: {exc}")
            return
        if spooled:
            self._spooled_total += batch.lines
        else:
            self._drops.drop(batch.lines, f"disk spool full ({self.spool.max_bytes} bytes)")

    # -- sender thread ---------------------------------------------------------------------------
    def _send_loop(self) -> None:
        while True:
            with self._cond:
                while not self._memory and not (self.spool and not self._stopping.is_set()):
                    if self._stopping.is_set() and self.buffer.closed and not self.buffered:
                        return
                    self._cond.wait(0.5)
                if self._stopping.is_set() and time.monotonic() > self._stop_deadline:
                    return
                batch = self._memory[0] if self._memory else None
                segment = None if batch is not None else self.spool.oldest()
            try:
                if batch is not None:
                    self._send_memory(batch)
                elif segment is not None:
                    self._send_segment(segment)
            except Exception as exc:  # e.g. the spool's disk: log, wait, try again
                log.exception("telemetry sender failed")
                self._last_error = f"{type(exc).__name__}: {exc}"
                self._backoff()

    def _send_memory(self, batch: _Batch) -> None:
        outcome = self._write(batch.body, batch.lines)
        with self._cond:
            if outcome is Outcome.RETRY:
                self._park_memory_locked()
            elif self._memory and self._memory[0] is batch:  # else stop() parked it meanwhile
                self._memory.popleft()
                self._memory_lines -= batch.lines
            self._cond.notify_all()
        if outcome is Outcome.RETRY:
            self._backoff()

    def _send_segment(self, segment: Segment) -> None:
        try:
            body = self.spool.read(segment)
        except (OSError, EOFError, ValueError) as exc:  # a damaged segment: say so, go on
            log.error(  # noqa: TRY400 (the reason is enough; no traceback)
                "telemetry spool segment %s is unreadable: %r", segment.path, exc
            )
            self.spool.remove(segment)
            self._drops.drop(segment.lines, "unreadable spool segment")
            return
        outcome = self._write(body, segment.lines)
        if outcome is Outcome.RETRY:
            self._backoff()
            return
        with self._cond:
            self.spool.remove(segment)
            if outcome is Outcome.WRITTEN:
                self._replayed += segment.lines
            if not self.spool:
                log.info("telemetry spool replayed: %d readings written since", self._replayed)
            self._cond.notify_all()

    def _write(self, body: bytes, lines: int) -> Outcome:
        writer = self._writer
        assert writer is not None
        try:
            writer.write(body)
        except Exception as exc:
            outcome, delay = classify(exc)
            self._last_error = f"{type(exc).__name__}: {exc}"[:500]
            if outcome is Outcome.REJECTED:
                self._rejected += lines
                log.error(  # noqa: TRY400 (the server's answer is the message; no traceback)
                    "InfluxDB refused %d readings as invalid: %s", lines, self._last_error
                )
                return outcome
            self._failures += 1
            if self._healthy:
                log.warning(
                    "InfluxDB write failed (%s); spooling to %s until it answers",
                    self._last_error,
                    self.spool.directory,
                )
            self._healthy = False
            self._retry_after = delay
            return outcome
        self._written += lines
        if not self._healthy:
            log.info("InfluxDB answers again; replaying %d spooled readings", self.spool.lines)
        self._healthy = True
        self._attempt = 0
        return Outcome.WRITTEN

    def _backoff(self) -> None:
        delay = backoff_delay(self._attempt, base=0.2, cap=self.retry_max_s)
        if self._retry_after is not None:
            delay = min(max(delay, self._retry_after), self.retry_max_s)
        self._attempt += 1
        self._stopping.wait(delay)

    def _park_memory(self) -> None:
        with self._cond:
            self._park_memory_locked()

    def _park_memory_locked(self) -> None:
        """Move every batch still in memory to the front of the spool, oldest first."""
        if not self._memory:
            return
        batches = [(b.body, b.lines) for b in self._memory]
        moved = sum(lines for _, lines in batches)
        self._memory.clear()
        self._memory_lines = 0
        refused = self.spool.prepend(batches)
        lost = sum(lines for _, lines in refused)
        self._spooled_total += moved - lost
        if lost:
            self._drops.drop(lost, f"disk spool full ({self.spool.max_bytes} bytes)")
