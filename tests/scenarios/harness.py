"""Scenarios through the real decoder and rules engine (and, when asked, the real ticket
store on SQLite) on a fake clock: no broker, no wall time.

``Bench`` is the production wiring of ``steward.runtime.Steward`` (its ``Decoder``,
``RulesEngine`` and ``TicketService`` on SQLite, committing decisions as its writer does)
without the MQTT gateway: messages from a ``Fleet`` are decoded at their own simulated time
and the engine ticks every simulated second, as the gateway's tick does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway.decode import Decoder, Reason
from gateway.reading import Reading, StatusChange
from rules.decision import Action, Decision
from rules.engine import RulesEngine
from simulators.scenarios import ExpectedTicket, Staged, combined_fleet, merge, stage
from simulators.schedule import Fleet
from steward.clock import FakeClock
from steward.runtime import Steward
from steward.settings import Settings
from steward.site import DeviceRegistry, StewardConfig

START = 1_767_225_600.0
"""2026-01-01T00:00Z: 08:00 in Shanghai, the start of the day shift and the morning peak."""
DAY = 86400.0

Key = tuple[str, str, str, str, str]
"""(site, device, rule, priority, category)."""


@dataclass
class Run:
    decisions: list[Decision] = field(default_factory=list)
    messages: int = 0
    rejected: list[str] = field(default_factory=list)
    rate_limited: int = 0

    def fires(self) -> Counter[Key]:
        return Counter(
            (d.ref.site, d.ref.device, d.rule, d.priority.value, d.category.value)
            for d in self.decisions
            if d.action is Action.FIRE
        )


class Bench:
    """Without ``db``: the decoder and the rules engine only (decisions, no tickets)."""

    def __init__(self, config: StewardConfig, *, start: float = START, db: Path | None = None):
        self.clock = FakeClock(start)
        self.steward: Steward | None = None
        if db is None:
            registry = DeviceRegistry(config)
            defaults = Settings()
            self.decoder = Decoder(
                registry,
                device_rate_per_s=defaults.device_rate_per_s,
                device_burst=defaults.device_burst,
            )
            self.engine = RulesEngine(registry, config.rules, self.clock)
        else:
            settings = Settings(mqtt_url="mqtt://127.0.0.1:1", database_url=f"sqlite:///{db}")
            self.steward = Steward(settings, clock=self.clock, config=config)
            self.decoder = self.steward.decoder
            self.engine = self.steward.engine

    def close(self) -> None:
        if self.steward is not None:
            self.steward.stop()

    def run(self, fleet: Fleet, seconds: float, *, tick_s: float = 1.0) -> Run:
        """Everything the fleet sends for ``seconds`` from the clock's time, a tick a second;
        decisions are committed to tickets as they come when the bench has a database."""
        run = Run()
        start = self.clock.now()
        messages = fleet.start(start)
        steps = int(seconds / tick_s)
        for step in range(1, steps + 1):
            decisions: list[Decision] = []
            for message in messages:
                self.clock.set(max(message.at, self.clock.now()))
                decoded = self.decoder.decode(message.topic, message.payload, self.clock.now())
                run.messages += 1
                if isinstance(decoded, Reading):
                    decisions += self.engine.on_reading(decoded)
                elif isinstance(decoded, StatusChange):
                    decisions += self.engine.on_status(decoded)
                elif decoded is None:
                    pass
                elif decoded.reason is Reason.RATE_LIMITED and decoded.ref is not None:
                    run.rate_limited += 1  # as the gateway does: counted, not a dead letter
                    decisions += self.engine.on_rate_limited(decoded.ref)
                else:
                    run.rejected.append(str(decoded))
            now = start + step * tick_s
            self.clock.set(now)
            decisions += self.engine.tick()
            if decisions:
                run.decisions += decisions
                if self.steward is not None:
                    self.steward._apply(decisions)
            messages = fleet.advance(now)
        return run

    def tickets(self) -> list[Key]:
        """Every ticket in the store as (site, device, rule, priority, category)."""
        assert self.steward is not None, "a bench without a database has no tickets"
        out: list[Key] = []
        cursor = None
        while True:
            page = self.steward.tickets.list(limit=500, cursor=cursor)
            out += [
                (t.site, t.device or "", t.rule or "", t.priority.value, t.category.value)
                for t in page.items
            ]
            cursor = page.next_cursor
            if cursor is None:
                return out


def expected_fires(
    site: str, expected: Iterable[ExpectedTicket], skip: Iterable[str] = ()
) -> Counter[Key]:
    skipped = set(skip)
    return Counter(
        (site, f.device, f.rule, f.priority.value, f.category.value)
        for t in expected
        for f in t.fires
        if f.rule not in skipped
    )


def match_tickets(
    found: Sequence[Key], expected: Iterable[tuple[str, ExpectedTicket]]
) -> tuple[list[Key], list[str]]:
    """Pair found tickets with expected ones (a zone ticket may be opened by any of its
    sensors). Returns (unexpected tickets, missing expectations)."""
    left = list(found)
    missing = []
    for site, t in expected:
        for i, (s, device, rule, priority, category) in enumerate(left):
            if (
                s == site
                and rule == t.rule
                and device in t.openers
                and priority == t.priority.value
                and category == t.category.value
            ):
                del left[i]
                break
        else:
            missing.append(f"{site}: {t.describe()}")
    return left, missing


def staged(names: Iterable[str], *, start: float = START, prefix: str = "") -> list[Staged]:
    return [stage(name, site=f"{prefix}{name.replace('_', '-')}", start=start) for name in names]


def bench_for(
    scenarios: Sequence[Staged], db: Path | None = None, *, extra: StewardConfig | None = None
) -> tuple[Bench, Fleet]:
    configs = [s.config for s in scenarios]
    if extra is not None:
        configs.insert(0, extra)
    return Bench(merge(configs), db=db), combined_fleet(scenarios)
