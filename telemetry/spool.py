"""A disk spool: batches of line protocol that could not be written yet, oldest first.

A FIFO of segment files ``<seq>-<lines>.lp.gz`` (gzip level 1: fast, and line protocol
shrinks about tenfold). A segment is written to ``.tmp`` and renamed, so a crash leaves either
the whole batch or none of it; segments left by an earlier run are replayed after a restart.
The spool is bounded by ``max_bytes`` on disk: a batch that does not fit is refused, and the
caller counts it as dropped.

Beside the queue, an **overflow** area (``overflow/`` inside the spool directory) holds
batches that are newer than readings still on their way to the queue (the sink's in-memory
buffer overflowed while older readings in it were not encoded yet). They share the size
limit and count as spooled, but the sender cannot see them until ``promote`` moves them, in
order, to the back of the queue, once everything older is queued. Overflow segments left by
an earlier run are newer than everything in its queue: they are promoted at start.
"""

from __future__ import annotations

import gzip
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("steward.telemetry")
_FIRST_SEQ = 10**15  # room below it for batches put back at the front
_SUFFIX = ".lp.gz"
OVERFLOW_DIR = "overflow"


@dataclass(frozen=True, slots=True)
class Segment:
    seq: int
    lines: int
    size: int
    path: Path


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int, fsync: bool = True) -> None:
        self.directory = directory
        self.overflow_directory = directory / OVERFLOW_DIR
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock = threading.Lock()  # the queue
        self._overflow_lock = threading.Lock()  # the overflow area
        self._budget = threading.Lock()  # _bytes and _lines, shared by both
        self.overflow_directory.mkdir(parents=True, exist_ok=True)
        for area in (directory, self.overflow_directory):
            for stale in area.glob("*.tmp"):
                stale.unlink()
        self._segments = self._load(directory)
        self._overflow = self._load(self.overflow_directory)
        self._next_overflow_seq = self._overflow[-1].seq + 1 if self._overflow else _FIRST_SEQ
        self._bytes = sum(s.size for s in self._segments + self._overflow)
        self._lines = sum(s.lines for s in self._segments + self._overflow)
        if self._overflow:
            self.promote()
        if self._segments:
            log.warning(
                "telemetry spool %s holds %d readings from an earlier run: replaying them",
                directory,
                self._lines,
            )

    @classmethod
    def _load(cls, directory: Path) -> list[Segment]:
        return sorted(
            (s for s in map(cls._parse, directory.glob(f"*{_SUFFIX}")) if s is not None),
            key=lambda s: s.seq,
        )

    @staticmethod
    def _parse(path: Path) -> Segment | None:
        try:
            seq, lines = path.name.removesuffix(_SUFFIX).split("-")
            return Segment(int(seq), int(lines), path.stat().st_size, path)
        except (ValueError, OSError):
            log.warning("ignoring unexpected file in the telemetry spool: %s", path)
            return None

    # -- state ---------------------------------------------------------------------------------
    @property
    def lines(self) -> int:
        """Readings on disk: the queue and the overflow area."""
        return self._lines

    @property
    def overflow_lines(self) -> int:
        """Readings in the overflow area, not yet in the queue."""
        return sum(s.lines for s in list(self._overflow))

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        """Segments in the queue (what the sender can take)."""
        return len(self._segments)

    def __bool__(self) -> bool:
        return bool(self._segments)

    # -- writing -------------------------------------------------------------------------------
    def append(self, body: bytes, lines: int) -> bool:
        """Add a batch at the back; False (nothing written) when it would pass ``max_bytes``."""
        with self._lock:
            seq = self._segments[-1].seq + 1 if self._segments else _FIRST_SEQ
            segment = self._write(self.directory, seq, body, lines)
            if segment is None:
                return False
            self._segments.append(segment)
            return True

    def prepend(self, batches: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
        """Put batches (oldest first) in front of everything spooled; returns those that did
        not fit."""
        refused: list[tuple[bytes, int]] = []
        with self._lock:
            seq = self._segments[0].seq if self._segments else _FIRST_SEQ + 1
            placed: list[Segment] = []
            for body, lines in reversed(batches):
                seq -= 1
                segment = self._write(self.directory, seq, body, lines)
                if segment is None:
                    refused.insert(0, (body, lines))
                else:
                    placed.insert(0, segment)
            self._segments[:0] = placed
        return refused

    def overflow(self, body: bytes, lines: int) -> bool:
        """Add a batch at the back of the overflow area (not the queue: see ``promote``);
        False when it would pass ``max_bytes``. Never waits for the queue's lock, so never
        for another thread's disk write."""
        with self._overflow_lock:
            segment = self._write(self.overflow_directory, self._next_overflow_seq, body, lines)
            if segment is None:
                return False
            self._next_overflow_seq += 1
            self._overflow.append(segment)
            return True

    def detach_overflow(self) -> list[Segment]:
        """The overflow segments written so far, oldest first, for ``promote``: later ones
        stay behind."""
        with self._overflow_lock:
            staged, self._overflow = self._overflow, []
        return staged

    def promote(self, staged: list[Segment] | None = None) -> int:
        """Move overflow segments (by default every one written so far), oldest first, to the
        back of the queue (a rename each); returns the readings moved. One caller at a time
        (the batcher)."""
        if staged is None:
            staged = self.detach_overflow()
        moved = 0
        try:
            with self._lock:
                seq = self._segments[-1].seq + 1 if self._segments else _FIRST_SEQ
                while staged:
                    segment = staged[0]
                    path = self.directory / f"{seq:020d}-{segment.lines}{_SUFFIX}"
                    segment.path.replace(path)
                    self._segments.append(Segment(seq, segment.lines, segment.size, path))
                    staged.pop(0)
                    moved += segment.lines
                    seq += 1
        finally:
            if staged:  # a rename failed: the rest stay first in the overflow area
                with self._overflow_lock:
                    self._overflow[:0] = staged
        return moved

    def _write(self, directory: Path, seq: int, body: bytes, lines: int) -> Segment | None:
        data = gzip.compress(body, compresslevel=1)
        with self._budget:
            if self._bytes + len(data) > self.max_bytes:
                return None
            self._bytes += len(data)
            self._lines += lines
        path = directory / f"{seq:020d}-{lines}{_SUFFIX}"
        tmp = path.with_name(path.name + ".tmp")
        try:
            with tmp.open("wb") as out:
                out.write(data)
                if self.fsync:
                    out.flush()
                    os.fsync(out.fileno())
            tmp.replace(path)
        except BaseException:
            self._release(len(data), lines)
            tmp.unlink(missing_ok=True)
            raise
        return Segment(seq, lines, len(data), path)

    def _release(self, size: int, lines: int) -> None:
        with self._budget:
            self._bytes -= size
            self._lines -= lines

    # -- reading -------------------------------------------------------------------------------
    def oldest(self) -> Segment | None:
        with self._lock:
            return self._segments[0] if self._segments else None

    @staticmethod
    def read(segment: Segment) -> bytes:
        return gzip.decompress(segment.path.read_bytes())

    def remove(self, segment: Segment) -> None:
        with self._lock:  # unlinked before a new segment can be given the same name
            self._segments.remove(segment)
            segment.path.unlink(missing_ok=True)
        self._release(segment.size, segment.lines)
