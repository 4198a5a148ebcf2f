"""Wires the pipeline: gateway → rules → decision writer → tickets; owns its lifecycle.

``Steward`` is what ``steward run`` / ``steward demo`` start and what the API's lifespan owns.
Tests build it with a ``FakeClock`` and drive time themselves.
"""

from __future__ import annotations

import gc
import logging
from types import TracebackType
from typing import cast

from delivery import dispatcher_from_settings
from delivery.metrics import DeliveryCollector
from gateway.decode import DeadLetters, Decoder
from gateway.mqtt import BrokerAddress, MqttGateway
from gateway.topics import DeviceRef
from rules.decision import Action, Decision
from rules.derived import REPEATED_FAILURE, is_elevator_fault, repeated_failure
from rules.engine import RulesEngine, check_overrides
from rules.thresholds import ElevatorThresholds, device_thresholds
from steward import history
from steward.clock import Clock, SystemClock, as_datetime
from steward.commits import CommitSignal
from steward.dwells import DwellSaver, load_dwells
from steward.metrics import make_registry
from steward.settings import Settings, redact_url
from steward.site import ConfigError, DeviceRegistry, StewardConfig, load_site_config
from steward.writer import Batch, DecisionWriter
from telemetry import make_sink
from telemetry.metrics import TelemetryCollector
from tickets.config import site_policies
from tickets.db import make_engine, migrate, ping, session_factory
from tickets.schemas import TicketView
from tickets.service import TicketService
from tickets.sweeper import Sweeper

log = logging.getLogger("steward")

GC_YOUNG_THRESHOLD = 50_000
"""Allocations between two collections of the youngest generation (CPython's default: 700).
Steward's garbage is almost all freed by reference counting (readings, rule views, rows); at
700 the collector ran hundreds of times a second under load, and each older-generation pass
walked every device's state."""


def settle_heap() -> None:
    """For a long-running process, once its configuration, registry and rule state are
    built: move everything alive now out of the collector's sight (``gc.freeze``: it is
    never garbage, and a full collection no longer walks it) and collect the youngest
    generation less often (``GC_YOUNG_THRESHOLD``). Cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


class Steward:
    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, config: StewardConfig | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        broker = BrokerAddress.from_settings(settings)  # a bad TLS setting fails before any I/O
        if config is None:
            config = (
                load_site_config(settings.site_config) if settings.site_config else StewardConfig()
            )
        self.registry = DeviceRegistry(config)
        self.config = config.without_devices()
        """The site file's sites and rules; its devices are in ``registry``."""
        self.db = make_engine(settings.database_url)
        migrate(self.db)
        self.sessions = session_factory(self.db)
        self.tickets = TicketService(
            self.sessions, self.clock, policies=site_policies(config.sites)
        )
        self.delivery = dispatcher_from_settings(settings, sessions=self.sessions, clock=self.clock)
        self.commits = CommitSignal()
        """Wakes the API's event streams when this process commits a ticket change."""
        self.tickets.on_committed = self._committed
        self.engine = RulesEngine(self.registry, config.rules, self.clock)
        self.engine.restore(
            [*history.active_rules(self.sessions), *self.tickets.suppressed_conditions()]
        )
        saved = load_dwells(self.sessions)
        self.engine.resume(saved)
        if saved:
            log.info("resumed %d rule dwell(s) saved before the restart", len(saved))
        self.dwells = DwellSaver(
            self.engine, self.sessions, self.clock, interval_s=settings.tick_interval_s, saved=saved
        )
        self.sweeper = Sweeper(self.tickets, interval_s=settings.tick_interval_s)
        self.decoder = Decoder(
            self.registry,
            max_payload_bytes=settings.max_payload_bytes,
            strict_devices=settings.strict_devices,
            device_rate_per_s=settings.device_rate_per_s,
            device_burst=settings.device_burst,
        )
        self.dead_letters = DeadLetters(settings.dead_letter_size)
        self.writer = DecisionWriter(self._apply)  # its commits wake delivery: on_committed
        self.telemetry = make_sink(settings, clock=self.clock, building_of=self._building_of)
        self.gateway = MqttGateway(
            broker=broker,
            client_id=settings.mqtt_client_id,
            decoder=self.decoder,
            engine=self.engine,
            dead_letters=self.dead_letters,
            on_decisions=self.writer.submit,
            clock=self.clock,
            keepalive_s=settings.mqtt_keepalive_s,
            tick_interval_s=settings.tick_interval_s,
            on_reading=self.telemetry.add,
            on_dwell=self.dwells.submit,
            yield_to_writer=self.writer.flush,
        )
        self.metrics = make_registry(self)
        self.metrics.register(DeliveryCollector(self.delivery, self.sessions))
        self.metrics.register(TelemetryCollector(self.telemetry))
        self._started = False

    def _committed(self) -> None:
        self.delivery.wake()
        self.commits.notify()

    def _apply(self, decisions: list[Decision], batch: Batch | None = None) -> list[TicketView]:
        """The writer's step: the decisions, then what they derive (repeated failures), each
        in a transaction that ``batch`` remembers across the writer's retries."""
        batch = batch or Batch()
        views = self.tickets.apply(decisions=decisions, attempts=batch.step("decisions"))
        derived = self._repeated_failures(decisions, views)
        if not derived:
            return views
        return views + self.tickets.apply(decisions=derived, attempts=batch.step("derived"))

    def _repeated_failures(
        self, decisions: list[Decision], views: list[TicketView]
    ) -> list[Decision]:
        """ELV-14: a newly opened elevator fault ticket may make it the Nth in the window."""
        opened = {v.dedup_key for v in views if v.occurrences == 1 and v.status == "open"}
        rule = self.engine.rule(REPEATED_FAILURE.id)  # None: switched off by the operator
        out = []
        for d in decisions:
            if (
                rule is None
                or d.action is not Action.FIRE
                or d.dedup_key not in opened
                or not is_elevator_fault(d.ref.kind.value, d.rule)
            ):
                continue
            device = self.registry.lookup(d.ref)
            th = cast(
                ElevatorThresholds,
                device_thresholds(
                    self.config.rules, d.ref.kind, device.thresholds if device else {}
                ),
            )
            since = as_datetime(d.at - th.repeated_failure_window_days * 86400.0)
            count = history.elevator_fault_tickets(self.sessions, d.ref, since)
            decision = repeated_failure(d.ref, count, th, d.at, d.building, d.location or "", rule)
            if decision is not None:
                out.append(decision)
        return out

    def active_tickets_by_device(self) -> dict[str, list[str]]:
        return history.active_by_device(self.sessions)

    def tickets_opened_counts(self) -> dict[tuple[str, str], int]:
        return history.opened_counts(self.sessions)

    def reload_config(self) -> list[str]:
        """Re-read the site file; on any problem keep the running configuration and return
        the problems (empty list: applied). Rule state and open tickets are kept."""
        path = self.settings.site_config
        if path is None:
            return ["no site file configured (STEWARD_SITE_CONFIG)"]
        try:
            config = load_site_config(path)
        except ConfigError as exc:
            problems = [f"{exc.path}: {p}" for p in exc.problems]
        else:
            problems = check_overrides(config.rules)
        if problems:
            log.error(
                "site file %s not applied, keeping the running one:\n%s", path, "\n".join(problems)
            )
            return problems
        registry = DeviceRegistry(config)
        self.engine.reconfigure(registry, config.rules)
        self.tickets.reconfigure(site_policies(config.sites))
        self.decoder.registry = registry
        self.config, self.registry = config.without_devices(), registry
        log.info(
            "site file %s applied: %d site(s), %d device(s)", path, len(config.sites), len(registry)
        )
        return []

    # -- lifecycle ----------------------------------------------------------------------------
    def _building_of(self, ref: DeviceRef) -> str | None:
        device = self.registry.lookup(ref)  # read each call: a reload is picked up
        return device.building if device is not None else None

    def start(self) -> None:
        self.telemetry.start()
        self.writer.start()
        self.dwells.start()
        self.sweeper.start()
        self.gateway.start()
        self.delivery.start()
        self._started = True
        log.info(
            "steward started: MQTT %s, database %s, %d registered devices",
            redact_url(self.settings.mqtt_url),
            self.db.url.render_as_string(hide_password=True),
            len(self.registry),
        )

    def stop(self) -> None:
        if self._started:
            self.gateway.stop()
            self.dwells.stop()
            self.sweeper.stop()
            self.writer.stop()
        self.delivery.stop()  # safe when never started; closes its HTTP clients
        self.telemetry.stop()  # flushes; safe when never started
        self.db.dispose()
        self._started = False

    def __enter__(self) -> Steward:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- health -------------------------------------------------------------------------------
    def readiness(self) -> dict[str, bool]:
        return {
            "broker": self.gateway.connected,
            "database": ping(self.db) and self.writer.stats.healthy,
        }
