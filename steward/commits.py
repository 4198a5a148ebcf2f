"""A wake-up from the threads that commit ticket changes to the API's event loop.

The SSE stream reads the outbox (so it shows every change, whichever process made it) and
waited ``POLL_INTERVAL_S`` between reads: 0-250 ms after each commit. In the process that
commits, ``CommitSignal.notify`` wakes every stream at once; the poll stays as the fallback
for changes made by other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class CommitSignal:
    def __init__(self) -> None:
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()

    def notify(self) -> None:
        """From any thread: a change was committed."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(event.set)

    def waiter(self) -> asyncio.Event:
        """An event set at the next ``notify``; ``forget`` it when done. Taken before reading
        the outbox, so a commit between the read and the wait is not missed."""
        event = asyncio.Event()
        with self._lock:
            self._waiters.add((asyncio.get_running_loop(), event))
        return event

    def forget(self, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters = {w for w in self._waiters if w[1] is not event}
