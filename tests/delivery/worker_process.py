"""A dispatcher in a process of its own, for the SIGKILL test: real clock, short backoff.

python -m tests.delivery.worker_process DATABASE_URL WEBHOOK_URL
"""

from __future__ import annotations

import sys
import threading

from delivery.policy import RetryPolicy
from steward.clock import SystemClock
from tests.delivery.helpers import dispatcher, webhook_route
from tickets.db import make_engine, session_factory


def main(database_url: str, url: str) -> None:
    engine = make_engine(database_url)
    d = dispatcher(
        session_factory(engine),
        SystemClock(),
        webhook_route(url, timeout_s=5),
        policy=RetryPolicy(base_s=0.05, cap_s=0.5),
        poll_interval_s=0.02,
        batch_size=5,
    )
    d.start()
    print("dispatching", flush=True)
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
