"""The three consumers the ingest benchmark times on one queued stream: the C baseline
(``mosquitto_sub``), the paho-mqtt floor (no-op callback, informational) and Steward."""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import func, select

from bench.broker import find_binary
from gateway.topics import SUBSCRIPTIONS
from steward.paho import BufferedClient, release_sockets
from steward.runtime import Steward, settle_heap
from steward.settings import Settings
from steward.site import StewardConfig
from tickets.models import Ticket

BASELINE_TOPIC = "estate/+/+/+/telemetry"
POLL_S = 0.01

Progress = Callable[[str], None]


@dataclass
class ConsumerResult:
    name: str
    consumed: int
    seconds: float
    finished: bool
    peak_rss_kib: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.consumed / self.seconds if self.seconds > 0 else 0.0


def consumer_dict(result: ConsumerResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "consumed": result.consumed,
        "seconds": round(result.seconds, 4),
        "msg_per_s": round(result.rate),
        "finished": result.finished,
        "peak_rss_kib": result.peak_rss_kib,
        **result.detail,
    }


# --- memory ---


def proc_status_kib(field_name: str, pid: int | str = "self") -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return None


def reset_peak_rss() -> bool:
    """Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- baseline: mosquitto_sub ------------------------------------------------------------------


def _mosquitto_sub() -> str:
    binary = find_binary("mosquitto_sub")
    if binary is None:
        raise FileNotFoundError("mosquitto_sub not found (apt-get install mosquitto-clients)")
    return binary


def _sub_command(port: int, client_id: str, qos: int) -> list[str]:
    return [
        _mosquitto_sub(),
        *("-h", "127.0.0.1", "-p", str(port), "-i", client_id, "-c", "-q", str(qos)),
        *("-t", BASELINE_TOPIC),
    ]


def register_baseline(port: int, client_id: str, qos: int) -> None:
    """Create mosquitto_sub's persistent session: subscribe, wait for the SUBACK, leave."""
    done = subprocess.run(
        [*_sub_command(port, client_id, qos), "-E"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mosquitto_sub -E failed ({done.returncode}): {done.stderr!r}")


def run_baseline(port: int, client_id: str, qos: int, n: int, timeout_s: float) -> ConsumerResult:
    """Time ``mosquitto_sub -C n`` from spawn (it connects at once) to its exit."""
    reaped: dict[str, Any] = {}
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*_sub_command(port, client_id, qos), "-C", str(n)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )

        def reap() -> None:  # a blocking wait4 in a thread: the exact end time
            try:
                _, status, _usage = os.wait4(process.pid, 0)
            except ChildProcessError:
                return
            reaped.update(end=time.perf_counter(), status=status)

        reaper = threading.Thread(target=reap, name="bench-reaper", daemon=True)
        reaper.start()
        # The child's ru_maxrss would include this (forked) Python's; sample its own VmHWM.
        peak_rss: int | None = None
        deadline = time.monotonic() + timeout_s
        while reaper.is_alive() and time.monotonic() < deadline:
            hwm = proc_status_kib("VmHWM", process.pid)
            if hwm is not None:
                peak_rss = max(peak_rss or 0, hwm)
            reaper.join(0.05)
        if reaper.is_alive():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            reaper.join(10)
        ended = reaped.get("end", time.perf_counter())
        code = os.waitstatus_to_exitcode(reaped["status"]) if "status" in reaped else -9
        process.returncode = code
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace").strip()
    finished = code == 0
    return ConsumerResult(
        name="mosquitto_sub (C)",
        consumed=n if finished else 0,
        seconds=ended - started,
        finished=finished,
        peak_rss_kib=peak_rss,
        detail={"exit_code": code, "stderr": errors[:500]},
    )


# --- transport floor: paho-mqtt with a callback that only counts -------------------------------


class PahoFloor:
    """paho-mqtt driven the way the gateway drives it (the same buffered client and options,
    ``loop()`` then ``loop_read()`` while bytes are buffered, manual QoS 1 acks) with a
    callback that only counts: what Python's MQTT transport alone costs, to tell it apart
    from the pipeline's own work. Informational."""

    def __init__(self, port: int, client_id: str) -> None:
        self.port = port
        self.count = 0
        self.subscribed = False
        self.client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: mqtt.ConnectFlags, _r: ReasonCode, _p: object
    ) -> None:
        client.subscribe([(topic, 1) for topic in SUBSCRIPTIONS])

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, _mid: int, _codes: list[ReasonCode], _p: object
    ) -> None:
        self.subscribed = True

    def _on_message(self, client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.count += 1
        if msg.qos:
            client.ack(msg.mid, msg.qos)

    def _run_until(self, done: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        self.client.connect("127.0.0.1", self.port, 30)
        try:
            while not done() and time.monotonic() < deadline:
                rc = self.client.loop(timeout=0.0 if self.client.buffered() else 0.05)
                while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self.client.buffered():
                    rc = self.client.loop_read()  # as MqttGateway._drain does
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
        finally:
            self.client.disconnect()
            for _ in range(20):  # flush the DISCONNECT so the session ends cleanly
                if self.client.socket() is None:
                    break
                self.client.loop(timeout=0.05)
            release_sockets(self.client)

    def register(self, timeout_s: float = 30.0) -> None:
        self._run_until(lambda: self.subscribed, timeout_s)
        if not self.subscribed:
            raise TimeoutError("the paho floor client did not subscribe in time")

    def run(self, n: int, timeout_s: float) -> ConsumerResult:
        started = time.perf_counter()
        self._run_until(lambda: self.count >= n, timeout_s)
        return ConsumerResult(
            name="paho-mqtt, no-op callback",
            consumed=self.count,
            seconds=time.perf_counter() - started,
            finished=self.count >= n,
        )


# --- ours: Steward ----------------------------------------------------------------------------


def steward_settings(mqtt_url: str, db_path: Path, client_id: str) -> Settings:
    return Settings(
        mqtt_url=mqtt_url, database_url=f"sqlite:///{db_path}", mqtt_client_id=client_id
    )


def register_steward(settings: Settings, config: StewardConfig, timeout_s: float = 30.0) -> None:
    """Start a Steward until the broker has acknowledged its subscriptions, then stop it: its
    persistent session now queues the stream."""
    steward = Steward(settings, config=config)
    subscribed = threading.Event()
    refused: list[str] = []

    def on_subscribe(
        _c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: object
    ) -> None:
        refused.extend(str(code) for code in codes if code.is_failure)
        subscribed.set()

    # The gateway does not use on_subscribe; the benchmark borrows it to see the SUBACK.
    steward.gateway._client.on_subscribe = on_subscribe
    steward.start()
    try:
        if not subscribed.wait(timeout_s):
            raise TimeoutError(f"Steward did not subscribe within {timeout_s}s")
        if refused:
            raise RuntimeError(f"broker refused Steward's subscriptions: {refused}")
    finally:
        steward.stop()


def _tickets_by_rule(steward: Steward) -> dict[str, int]:
    with steward.sessions() as session:
        rows = session.execute(
            select(Ticket.rule, func.count()).group_by(Ticket.rule).order_by(func.count().desc())
        ).all()
    return {str(rule): int(count) for rule, count in rows}


def _decided(steward: Steward) -> int:
    while True:
        try:
            return sum(steward.decoder.accepted.values()) + sum(steward.decoder.rejected.values())
        except RuntimeError:  # a counter gained a key while we summed; look again
            continue


class ReplayClock:
    """Steward's clock during a backlog drain: the device time of the message being handled.

    The queued stream covers a minute or two of device time and drains in seconds; against
    the wall clock the backlog would look stale and every dwell timer in it would expire at
    the first rule tick (an 80 s door-open dwell fires for every open door), which turns a
    throughput run into a ticket storm. This clock instead maps the number of messages the
    gateway has taken in onto the stream's timeline (messages are in time order, at a nearly
    even rate), so the rules see the stream as if it arrived live. A ``Clock``."""

    def __init__(self, start: float, end: float, total: int) -> None:
        self.start = start
        self.span = max(0.0, end - start)
        self.total = max(1, total)
        self._stats: Any = None

    def follow(self, stats: Any) -> None:
        """``stats.messages_in``: the gateway's count of messages taken in."""
        self._stats = stats

    def now(self) -> float:
        taken = 0 if self._stats is None else min(self._stats.messages_in, self.total)
        return self.start + self.span * taken / self.total


class GcTimer:
    """Time spent in the cyclic garbage collector, by generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.seconds[generation] += time.perf_counter() - self._started
            self.collections[generation] += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds_by_generation": [round(x, 3) for x in self.seconds],
            "collections_by_generation": self.collections,
            "seconds": round(sum(self.seconds), 3),
        }


@dataclass
class StewardRun:
    result: ConsumerResult
    accepted: dict[str, int]
    rejected: dict[str, int]
    tickets: dict[str, Any]
    memory: dict[str, Any]


def run_steward(
    settings: Settings,
    config: StewardConfig,
    n: int,
    timeout_s: float,
    progress: Progress,
    *,
    timeline: tuple[float, float] | None = None,
) -> StewardRun:
    """Time a real Steward from start (it connects at once) until it has decided on all ``n``
    messages (accepted or rejected) and its writer has committed what the rules decided.

    ``timeline``: (first, last) device time of the stream; Steward then runs on a
    ``ReplayClock`` over it. Without it, on the wall clock (the backlog is as old as it is)."""
    clock = ReplayClock(timeline[0], timeline[1], n) if timeline is not None else None
    # built (migrations, registry) before timing
    steward = Steward(settings, clock=clock, config=config)
    settle_heap()  # as ``steward run`` does (collects first)
    rss_before = proc_status_kib("VmRSS")
    hwm_reset = reset_peak_rss()
    gc_timer = GcTimer()
    try:
        if clock is not None:
            clock.follow(steward.gateway.stats)
        gc_timer.__enter__()
        started = time.perf_counter()
        steward.start()
        deadline = time.monotonic() + timeout_s
        next_note = time.monotonic() + 1.0
        decided = 0
        while (decided := _decided(steward)) < n and time.monotonic() < deadline:
            time.sleep(POLL_S)
            if time.monotonic() >= next_note:
                next_note += 1.0
                progress(
                    f"steward: {decided:,}/{n:,} decided "
                    f"({decided / (time.perf_counter() - started):,.0f} msg/s so far)"
                )
        decided_at = time.perf_counter()
        flushed = steward.writer.flush(max(1.0, deadline - time.monotonic()))
        ended = time.perf_counter()
        gc_timer.__exit__()
        peak = proc_status_kib("VmHWM") if hwm_reset else None
        stats, writer = steward.gateway.stats, steward.writer.stats
        accepted = dict(steward.decoder.accepted)
        rejected = {str(reason): count for reason, count in steward.decoder.rejected.items()}
        tickets = {
            "active": steward.tickets.count_active(),
            "opened_by_priority_source": {
                f"{priority}/{source}": count
                for (priority, source), count in steward.tickets_opened_counts().items()
            },
            "opened_by_rule": _tickets_by_rule(steward),
            "decisions_committed": writer.decisions,
            "writer_batches": writer.batches,
            "writer_failures": writer.failures,
        }
        detail = {
            "seconds_to_decided": round(decided_at - started, 4),
            "seconds_to_committed": round(ended - started, 4),
            "messages_in": stats.messages_in,
            "readings": stats.readings,
            "rule_eval_seconds": round(stats.rule_eval_seconds, 3),
            "connects": stats.connects,
            "disconnects_while_running": stats.disconnects,
            "writer_flushed": flushed,
            "gc": gc_timer.as_dict(),
            "gc_share": round(sum(gc_timer.seconds) / max(ended - started, 1e-9), 4),
            "gc_tracked_objects_after": len(gc.get_objects()),
        }
    finally:
        if gc_timer in gc.callbacks:
            gc_timer.__exit__()
        steward.stop()
    memory = {
        "rss_before_start_kib": rss_before,
        "peak_rss_kib": peak,
        "peak_rss_growth_kib": (peak - rss_before) if peak and rss_before else None,
    }
    result = ConsumerResult(
        name="steward (full pipeline)",
        consumed=decided,
        seconds=ended - started,
        finished=decided >= n and flushed,
        peak_rss_kib=peak,
        detail=detail,
    )
    return StewardRun(result, accepted, rejected, tickets, memory)
