"""A private Mosquitto for a benchmark: free port, unlimited queues for offline sessions."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def find_binary(name: str) -> str | None:
    """``mosquitto`` lives in sbin on Debian, which is not always on PATH."""
    return shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/usr/local/sbin") if (p := Path(d) / name).exists()),
        None,
    )


def mosquitto_version() -> str:
    binary = find_binary("mosquitto")
    if binary is None:
        return "not found"
    try:
        out = subprocess.run(
            [binary, "-h"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = out.strip().splitlines()[0] if out.strip() else ""
    return first.removeprefix("mosquitto version ").strip() or "unknown"


class BenchBroker:
    """Mosquitto on 127.0.0.1 and a free port. Offline persistent sessions queue everything
    (``max_queued_messages 0`` and ``max_queued_bytes 0`` mean no limit; QoS 0 included), so
    a whole stream can be published while the consumer is away. No persistence to disk."""

    def __init__(self, workdir: Path, *, max_inflight: int = 1000) -> None:
        binary = find_binary("mosquitto")
        if binary is None:
            raise FileNotFoundError("mosquitto not found (apt-get install mosquitto)")
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "mosquitto.conf"
        # as root, Mosquitto would otherwise drop to user 'mosquitto'
        run_as = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            run_as + f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 0\n"
            "max_queued_bytes 0\n"
            "queue_qos0_messages true\n"
            f"max_inflight_messages {max_inflight}\n"
            "log_dest none\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port("127.0.0.1", self.port)
        except BaseException:
            self.stop()
            raise

    def rss_kib(self) -> int | None:
        """The broker's current resident set (it holds the queued stream)."""
        if self.process is None:
            return None
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def __enter__(self) -> BenchBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
