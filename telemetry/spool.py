"""A disk spool: batches of line protocol that could not be written yet, oldest first.

A FIFO of segment files ``<seq>-<lines>.lp.gz`` (gzip level 1: fast, and line protocol
shrinks about tenfold). A segment is written to ``.tmp`` and renamed, so a crash leaves either
the whole batch or none of it; segments left by an earlier run are replayed after a restart.
The spool is bounded by ``max_bytes`` on disk: a batch that does not fit is refused, and the
caller counts it as dropped.
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


@dataclass(frozen=True, slots=True)
class Segment:
    seq: int
    lines: int
    size: int
    path: Path


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int, fsync: bool = True) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.tmp"):
            stale.unlink()
        self._segments: list[Segment] = sorted(
            (s for s in map(self._parse, directory.glob(f"*{_SUFFIX}")) if s is not None),
            key=lambda s: s.seq,
        )
        self._bytes = sum(s.size for s in self._segments)
        self._lines = sum(s.lines for s in self._segments)
        if self._segments:
            log.warning(
                "telemetry spool %s holds %d readings from an earlier run: replaying them",
                directory,
                self._lines,
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
        return self._lines

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._segments)

    def __bool__(self) -> bool:
        return bool(self._segments)

    # -- writing -------------------------------------------------------------------------------
    def append(self, body: bytes, lines: int) -> bool:
        """Add a batch at the back; False (nothing written) when it would pass ``max_bytes``."""
        with self._lock:
            seq = self._segments[-1].seq + 1 if self._segments else _FIRST_SEQ
            segment = self._write(seq, body, lines)
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
                segment = self._write(seq, body, lines)
                if segment is None:
                    refused.insert(0, (body, lines))
                else:
                    placed.insert(0, segment)
            self._segments[:0] = placed
        return refused

    def _write(self, seq: int, body: bytes, lines: int) -> Segment | None:
        data = gzip.compress(body, compresslevel=1)
        if self._bytes + len(data) > self.max_bytes:
            return None
        path = self.directory / f"{seq:020d}-{lines}{_SUFFIX}"
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as out:
            out.write(data)
            if self.fsync:
                out.flush()
                os.fsync(out.fileno())
        tmp.replace(path)
        self._bytes += len(data)
        self._lines += lines
        return Segment(seq, lines, len(data), path)

    # -- reading -------------------------------------------------------------------------------
    def oldest(self) -> Segment | None:
        with self._lock:
            return self._segments[0] if self._segments else None

    @staticmethod
    def read(segment: Segment) -> bytes:
        return gzip.decompress(segment.path.read_bytes())

    def remove(self, segment: Segment) -> None:
        with self._lock:
            self._segments.remove(segment)
            self._bytes -= segment.size
            self._lines -= segment.lines
        segment.path.unlink(missing_ok=True)
