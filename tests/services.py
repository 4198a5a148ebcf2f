"""Real services for tests: a private Mosquitto on a free port, PostgreSQL databases, a
private PostgreSQL cluster for tests that stop and restart the server."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def require_service(what: str, why: str) -> None:
    """A missing service fails under CI=true (it must never pass by skipping) and skips locally."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: required services must be running)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port, 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )


@dataclass(frozen=True)
class BrokerTls:
    """A TLS listener's files (PEM): the broker's certificate and key, and the CA that client
    certificates are checked against (``require_certificate``: a client must show one)."""

    certfile: Path
    keyfile: Path
    cafile: Path
    require_certificate: bool = False


class PrivateMosquitto:
    """A Mosquitto of the test's own, on a free port, with persistence so sessions survive a
    restart. ``stop()`` sends SIGTERM (Mosquitto saves its state), ``kill()`` SIGKILL.
    With ``tls``, a second listener on ``tls_port`` (``tls_url``) speaks MQTT over TLS; the
    plain one stays."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        tls: BrokerTls | None = None,
        tls_port: int | None = None,
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            require_service("mosquitto", "binary not found (apt-get install mosquitto)")
        self.binary = str(binary)
        self.port = port or free_port()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "mosquitto.conf"
        # as root, Mosquitto would drop to user 'mosquitto' and fail to save its sessions
        run_as = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            run_as + f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 100\n"
            "log_dest none\n"
        )
        self.tls = tls
        self.tls_port = (tls_port or free_port()) if tls is not None else None
        if tls is not None:
            with self.config.open("a") as conf:
                conf.write(
                    f"listener {self.tls_port} 127.0.0.1\n"
                    f"cafile {tls.cafile}\n"
                    f"certfile {tls.certfile}\n"
                    f"keyfile {tls.keyfile}\n"
                    f"require_certificate {str(tls.require_certificate).lower()}\n"
                )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        assert self.tls_port is not None, "no TLS listener (PrivateMosquitto(tls=...))"
        return f"mqtts://127.0.0.1:{self.tls_port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port("127.0.0.1", self.port)
        if self.tls_port is not None:
            wait_port("127.0.0.1", self.tls_port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def postgres_admin_url() -> str:
    return os.environ.get("STEWARD_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def create_postgres_database() -> str:
    """Create an empty database of the test's own; returns its URL (psycopg 3 driver)."""
    import psycopg  # noqa: PLC0415 (only tests on PostgreSQL need it)

    admin = postgres_admin_url()
    try:
        conn = psycopg.connect(
            admin.replace("postgresql+psycopg://", "postgresql://"),
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError as exc:
        require_service("PostgreSQL", f"{admin}: {exc}")
        raise
    name = f"steward_test_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    import psycopg  # noqa: PLC0415

    admin = postgres_admin_url().replace("postgresql+psycopg://", "postgresql://")
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` live: on PATH, else Debian's newest
    /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    for pg_ctl in reversed(candidates):
        if (pg_ctl.parent / "initdb").exists():
            return pg_ctl.parent
    return None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (``initdb`` + ``pg_ctl``) on a free port, trust
    auth on 127.0.0.1, its socket in its own folder: never the shared server on 5432.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` OS
    user (commands through ``runuser``) in a temporary folder that user owns. ``stop()`` is
    ``pg_ctl stop -m fast`` (clients are disconnected, what was committed stays), ``kill()``
    ``-m immediate`` (a crash: the next start recovers from the WAL). Use it as a context
    manager or call ``remove()``: the folder goes with the cluster."""

    def __init__(self, port: int | None = None, *, tls: bool = False) -> None:
        self.tls = tls
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            require_service(
                "PostgreSQL binaries", "initdb/pg_ctl not found (apt-get install postgresql)"
            )
        self.bin_dir = Path(str(bin_dir))
        self.as_user: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                owner = None
            if runuser is None or owner is None:
                require_service("PostgreSQL as root", "needs runuser and a 'postgres' OS user")
            self.as_user = [str(runuser), "-u", "postgres", "--"]
        self.port = port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="steward-pg-"))
        if owner is not None:
            os.chown(self.workdir, owner.pw_uid, owner.pw_gid)
        self.data = self.workdir / "data"
        self.logfile = self.workdir / "postgres.log"
        self._owner = owner
        self._initialised = False

    @property
    def ca_file(self) -> Path:
        """With ``tls=True``: the self-signed certificate (for 127.0.0.1) a client verifies."""
        return self.data / "server.crt"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [*self.as_user, str(self.bin_dir / args[0]), *args[1:]]
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace')}{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n" + self.logfile.read_text(errors="replace")[-2000:]
        return ""

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.workdir}'\n"
                "max_connections = 40\n"
                "shared_buffers = 16MB\n"
                "fsync = off\n"  # the machine does not crash in a test; commits stay synchronous
            )
        if self.tls:
            self._make_certificate()
        self._initialised = True

    def _make_certificate(self) -> None:
        if shutil.which("openssl") is None:
            require_service("openssl", "needed to make the test server's certificate")
        key = self.data / "server.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(self.ca_file)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        key.chmod(0o600)
        if self._owner is not None:
            for path in (key, self.ca_file):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")

    def start(self) -> None:
        if not self._initialised:
            self.init()
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60", "start"
        )
        wait_port("127.0.0.1", self.port)

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast`` (or ``smart`` / ``immediate``), waiting until it is down."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def kill(self) -> None:
        self.stop("immediate")

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, ...): this cluster only."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        found = [postmaster]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # the command name may hold spaces: the parent pid follows the last ')'
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    found.append(int(stat.parent.name))
        return found

    def pause(self) -> None:
        """SIGSTOP every process of the cluster: a hung server (connections are accepted by
        the kernel, queries never answered)."""
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGCONT)

    def remove(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.resume()  # a paused cluster cannot stop
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.remove()
