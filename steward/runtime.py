"""Wires the pipeline: gateway → rules → decision writer → tickets; owns its lifecycle.

``Steward`` is what ``steward run`` / ``steward demo`` start and what the API's lifespan owns.
Tests build it with a ``FakeClock`` and drive time themselves.
"""

from __future__ import annotations

import logging
from types import TracebackType

from sqlalchemy import func, select

from gateway.decode import DeadLetters, Decoder
from gateway.mqtt import BrokerAddress, MqttGateway
from gateway.topics import DeviceRef, Kind
from rules.decision import Decision, dedup_key
from rules.engine import RULES_BY_ID, Alert, RulesEngine
from steward.clock import Clock, SystemClock
from steward.metrics import make_registry
from steward.settings import Settings, mqtt_address
from steward.site import DeviceRegistry, StewardConfig, load_site_config
from steward.writer import DecisionWriter
from tickets.db import make_engine, migrate, ping, session_factory
from tickets.models import Ticket
from tickets.schemas import TicketView
from tickets.service import TicketService

log = logging.getLogger("steward")
ACTIVE = ("open", "acknowledged", "in_progress")


class Steward:
    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, config: StewardConfig | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        if config is None:
            config = (
                load_site_config(settings.site_config) if settings.site_config else StewardConfig()
            )
        self.config = config
        self.registry = DeviceRegistry(config)
        self.db = make_engine(settings.database_url)
        migrate(self.db)
        self.sessions = session_factory(self.db)
        self.tickets = TicketService(self.sessions, self.clock)
        self.engine = RulesEngine(self.registry, config.rules, self.clock)
        self.engine.restore(self._active_rules())
        self.decoder = Decoder(
            self.registry,
            max_payload_bytes=settings.max_payload_bytes,
            strict_devices=settings.strict_devices,
        )
        self.dead_letters = DeadLetters(settings.dead_letter_size)
        self.writer = DecisionWriter(self._apply)
        host, port, user, password = mqtt_address(settings.mqtt_url)
        self.gateway = MqttGateway(
            broker=BrokerAddress(host, port, user, password),
            client_id=settings.mqtt_client_id,
            decoder=self.decoder,
            engine=self.engine,
            dead_letters=self.dead_letters,
            on_decisions=self.writer.submit,
            clock=self.clock,
            keepalive_s=settings.mqtt_keepalive_s,
            tick_interval_s=settings.tick_interval_s,
        )
        self.metrics = make_registry(self)
        self._started = False

    def _apply(self, decisions: list[Decision]) -> list[TicketView]:
        return self.tickets.apply(decisions=decisions)

    def _active_rules(self) -> list[tuple[DeviceRef, str, float]]:
        with self.sessions() as session:
            rows = session.execute(
                select(
                    Ticket.site, Ticket.kind, Ticket.device, Ticket.rule, Ticket.opened_at
                ).where(Ticket.status.in_(ACTIVE), Ticket.source == "rule")
            ).all()
        return [
            (DeviceRef(site, Kind(kind), device), rule, opened.timestamp())
            for site, kind, device, rule, opened in rows
            if kind and device
        ]

    @staticmethod
    def dedup_key_of(alert: Alert) -> str:
        return dedup_key(alert.ref, RULES_BY_ID[alert.rule].group)

    def active_tickets_by_device(self) -> dict[str, list[str]]:
        with self.sessions() as session:
            rows = session.execute(
                select(Ticket.site, Ticket.device, Ticket.number)
                .where(Ticket.status.in_(ACTIVE), Ticket.device.is_not(None))
                .order_by(Ticket.id)
            ).all()
        out: dict[str, list[str]] = {}
        for site, device, number in rows:
            out.setdefault(f"{site}/{device}", []).append(number)
        return out

    def tickets_opened_counts(self) -> dict[tuple[str, str], int]:
        with self.sessions() as session:
            rows = session.execute(
                select(Ticket.priority, Ticket.source, func.count()).group_by(
                    Ticket.priority, Ticket.source
                )
            ).all()
        return {(str(p), str(s)): int(n) for p, s, n in rows}

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.writer.start()
        self.gateway.start()
        self._started = True
        log.info(
            "steward started: MQTT %s, database %s, %d registered devices",
            self.settings.mqtt_url,
            self.db.url.render_as_string(hide_password=True),
            len(self.registry),
        )

    def stop(self) -> None:
        if not self._started:
            self.db.dispose()
            return
        self.gateway.stop()
        self.writer.stop()
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
