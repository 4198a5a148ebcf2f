"""The API on a real uvicorn server in a thread, for what TestClient cannot do (the SSE stream
never ends: a client must read its status and hang up)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.app import create_app
from steward.runtime import Steward
from tests.mqtt_helpers import wait_for
from tests.services import free_port


@contextmanager
def served(steward: Steward) -> Iterator[str]:
    """The app of ``steward`` on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(steward), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, what="API server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
