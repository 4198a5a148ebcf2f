"""The demo's own MQTT broker: ``mosquitto`` when it is on PATH, else amqtt in-process.

It prefers port 1883 and takes a free port when that is busy, saying which.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger("steward.broker")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port(preferred: int = 1883) -> int:
    if _port_free(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded MQTT broker did not listen on 127.0.0.1:{port}")


class EmbeddedBroker:
    def __init__(self, preferred_port: int = 1883, workdir: Path | None = None) -> None:
        self.port = pick_port(preferred_port)
        self.workdir = workdir
        self.engine = "mosquitto" if shutil.which("mosquitto") else "amqtt"
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *_exc: tuple[type[BaseException], BaseException, TracebackType]) -> None:
        self.stop()

    def start(self) -> None:
        if self.engine == "mosquitto":
            self._start_mosquitto()
            _wait_listening(self.port)
        else:
            self._start_amqtt()  # returns once the broker listens

    def _start_mosquitto(self) -> None:
        folder = self.workdir
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="steward-mqtt-")
            folder = Path(self._tmp.name)
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "mosquitto.conf"
        run_as = "user root\n" if os.geteuid() == 0 else ""  # else it cannot save sessions
        config.write_text(
            run_as + f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nlog_dest none\n"
        )
        binary = shutil.which("mosquitto") or "mosquitto"
        self._process = subprocess.Popen(  # noqa: S603 - our own config
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def _start_amqtt(self) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        async def serve() -> None:
            from amqtt.broker import Broker  # noqa: PLC0415 - only when mosquitto is absent

            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
                },
            }
            broker = Broker(config)
            self._stopped = asyncio.Event()
            try:
                await broker.start()
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                raise
            ready.set()
            await self._stopped.wait()
            await broker.shutdown()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(serve())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="steward-amqtt", daemon=True)
        self._thread.start()
        ready.wait(15)
        if errors:
            raise RuntimeError(f"embedded amqtt broker failed to start: {errors[0]!r}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(10)
            self._process = None
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            if self._thread is not None:
                self._thread.join(10)
            self._loop = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
