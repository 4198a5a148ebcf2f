"""The hand-off buffer (batches by size, by age, on demand) and the disk spool (a FIFO that
survives restarts, bounded, with batches put back at the front)."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import pytest

from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from telemetry.buffer import ReadingBuffer
from telemetry.spool import Spool
from tests.telemetry.helpers import elevator_series

REF = DeviceRef("s", Kind.ELEVATOR, "car")


def test_full_batches_first_then_the_rest_by_age() -> None:
    buffer = ReadingBuffer(capacity=1000, batch_size=100, flush_interval_s=0.05)
    readings = elevator_series(REF, 250)
    for r in readings:
        assert buffer.add(r)
    batches: list[list[Reading]] = []
    while sum(len(b) for b in batches) < 250:
        batches.append(buffer.next_batch())
        buffer.release()
    assert [len(b) for b in batches] == [100, 100, 50]
    assert [r for b in batches for r in b] == readings
    assert len(buffer) == 0


def test_a_batch_counts_as_buffered_until_released() -> None:
    buffer = ReadingBuffer(capacity=10, batch_size=5, flush_interval_s=10)
    for r in elevator_series(REF, 5):
        buffer.add(r)
    batch = buffer.next_batch()
    assert (len(batch), len(buffer)) == (5, 5)
    buffer.release()
    assert len(buffer) == 0


def test_hurry_hands_out_a_partial_batch_at_once_and_close_ends() -> None:
    buffer = ReadingBuffer(capacity=10, batch_size=5, flush_interval_s=3600)
    buffer.add(elevator_series(REF, 1)[0])
    buffer.hurry()
    assert len(buffer.next_batch()) == 1
    buffer.release()
    buffer.calm()
    done = threading.Event()

    def consume() -> None:
        assert buffer.next_batch() == []
        done.set()

    thread = threading.Thread(target=consume)
    thread.start()
    buffer.close()  # wakes the waiting consumer with nothing
    thread.join(5)
    assert done.is_set()


def test_capacity_must_hold_a_batch() -> None:
    with pytest.raises(ValueError, match="at least one batch"):
        ReadingBuffer(capacity=10, batch_size=100, flush_interval_s=1)


def test_spool_is_fifo_and_prepend_goes_in_front(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    assert spool.append(b"c1\nc2", 2)
    assert spool.append(b"d1", 1)
    assert spool.prepend([(b"a1", 1), (b"b1\nb2\nb3", 3)]) == []
    order = []
    while (segment := spool.oldest()) is not None:
        order.append(Spool.read(segment))
        spool.remove(segment)
    assert order == [b"a1", b"b1\nb2\nb3", b"c1\nc2", b"d1"]
    assert (spool.lines, spool.size_bytes, len(spool)) == (0, 0, 0)


def test_spool_survives_a_restart_and_forgets_half_written_files(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=1 << 20)
    first.append(b"one", 1)
    first.prepend([(b"zero", 1)])
    first.append(b"two\nthree", 2)
    (tmp_path / "00000000000000000999-5.lp.gz.tmp").write_bytes(b"half")
    second = Spool(tmp_path, max_bytes=1 << 20)
    assert second.lines == 4
    assert not list(tmp_path.glob("*.tmp"))
    bodies = []
    while (segment := second.oldest()) is not None:
        bodies.append(Spool.read(segment))
        second.remove(segment)
    assert bodies == [b"zero", b"one", b"two\nthree"]
    assert second.append(b"after", 1)  # numbering goes on after a restart


def test_spool_refuses_what_does_not_fit(tmp_path: Path) -> None:
    body = bytes(range(256)) * 8
    size = len(gzip.compress(body, compresslevel=1))
    spool = Spool(tmp_path, max_bytes=2 * size + 100)  # room for a tiny batch, not a third
    assert spool.append(body, 1)
    assert spool.append(body, 1)
    assert not spool.append(body, 1)
    assert spool.prepend([(body, 1), (b"x", 1)]) == [(body, 1)]
    assert spool.size_bytes <= spool.max_bytes
    assert spool.lines == 3


def test_spool_ignores_foreign_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "notes.lp.gz").write_bytes(b"?")
    spool = Spool(tmp_path, max_bytes=100)
    assert len(spool) == 0
    assert "unexpected file" in caplog.text


def test_overflow_waits_outside_the_queue_until_promoted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    assert spool.overflow(b"c1", 1)
    assert spool.overflow(b"d1\nd2", 2)
    assert (len(spool), spool.oldest(), spool.lines, spool.overflow_lines) == (0, None, 3, 3)
    assert spool.append(b"a1", 1)  # older readings, queued after the overflow was written
    assert spool.prepend([(b"z1", 1)]) == []
    assert spool.promote() == 3
    assert spool.overflow(b"e1", 1)  # a new overflow goes behind, once promoted
    assert spool.promote() == 1
    assert (spool.lines, spool.overflow_lines) == (6, 0)
    order = []
    while (segment := spool.oldest()) is not None:
        order.append(Spool.read(segment))
        spool.remove(segment)
    assert order == [b"z1", b"a1", b"c1", b"d1\nd2", b"e1"]
    assert (spool.lines, spool.size_bytes) == (0, 0)
    assert not list(tmp_path.rglob("*.lp.gz"))


def test_overflow_left_by_an_earlier_run_is_queued_after_its_queue(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=1 << 20)
    first.append(b"one", 1)
    first.overflow(b"three", 1)
    first.overflow(b"four", 1)
    first.append(b"two", 1)
    second = Spool(tmp_path, max_bytes=1 << 20)
    assert (second.lines, second.overflow_lines, len(second)) == (4, 0, 4)
    bodies = []
    while (segment := second.oldest()) is not None:
        bodies.append(Spool.read(segment))
        second.remove(segment)
    assert bodies == [b"one", b"two", b"three", b"four"]


def test_overflow_shares_the_size_limit(tmp_path: Path) -> None:
    body = bytes(range(256)) * 8
    size = len(gzip.compress(body, compresslevel=1))
    spool = Spool(tmp_path, max_bytes=2 * size + 100)
    assert spool.append(body, 1)
    assert spool.overflow(body, 1)
    assert not spool.overflow(body, 1)
    assert not spool.append(body, 1)
    assert spool.size_bytes <= spool.max_bytes
