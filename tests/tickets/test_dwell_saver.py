"""``DwellSaver``: running dwells reach the database before their reading is acknowledged,
come back from it unchanged, and leave it when they end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from steward.dwells import DwellSaver, load_dwells
from tests.rules.helpers import Timeline
from tests.rules.test_dwell_resume import TRAPPED
from tickets.db import make_engine, migrate, session_factory
from tickets.models import RuleDwell


def rows(saver: DwellSaver) -> int:
    with saver.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RuleDwell)) or 0)


def test_a_dwell_is_saved_before_its_reading_is_acknowledged_and_loads_back(
    database_url: str,
) -> None:
    db = make_engine(database_url)
    migrate(db)
    try:
        tl = Timeline()
        saver = DwellSaver(tl.engine, session_factory(db), tl.clock)
        tl.at(0, moving=True, direction="up", door_zone=False, occupied=True)
        tl.at(1, **TRAPPED)
        assert tl.engine.new_dwell
        acked: list[str] = []
        saver.submit(lambda: acked.append("reading at t=1"))
        assert acked == []  # not before the save
        assert saver.save()
        assert acked == ["reading at t=1"]
        assert rows(saver) == 1

        tl.at(5, occupied=False)
        assert not tl.engine.new_dwell  # the same dwell goes on
        assert saver.save()
        assert saver.stats.rows_written == 1  # unchanged dwell, no rewrite

        [loaded] = load_dwells(saver.sessions)
        [running] = tl.engine.dwells().values()
        assert loaded.since == running.since == {"elevator.entrapment": tl.t0 + 1}
        # as saved when the dwell started: the reading of t=1, a passenger seen
        assert (loaded.reading.ref, loaded.reading.observed_at) == (tl.ref, tl.t0 + 1)
        assert loaded.reading.telemetry == tl.engine.devices[
            tl.ref.key
        ].reading.telemetry.model_copy(update={"occupied": True, "ts": int((tl.t0 + 1) * 1000)})
        assert loaded.memo["occupied_seen"] is True

        tl.at(8, moving=True, direction="down")  # released: the dwell ends
        assert saver.save()
        assert rows(saver) == 0
        assert load_dwells(saver.sessions) == []
    finally:
        db.dispose()


def test_acks_wait_while_the_database_is_away(tmp_path: Path) -> None:
    good = make_engine(f"sqlite:///{tmp_path / 'steward.db'}")
    migrate(good)
    away = make_engine(f"sqlite:///{tmp_path / 'missing' / 'steward.db'}")
    try:
        tl = Timeline()
        saver = DwellSaver(tl.engine, session_factory(away), tl.clock)
        tl.at(1, **TRAPPED)
        acked: list[int] = []
        saver.submit(lambda: acked.append(1))
        assert not saver.save()
        assert acked == []
        assert not saver.stats.healthy
        saver.sessions = session_factory(good)  # the database is back
        assert saver.save()
        assert acked == [1]
        assert saver.stats.healthy
        assert rows(saver) == 1
    finally:
        away.dispose()
        good.dispose()


@contextmanager
def stopped_at_t1(tmp_path: Path) -> Iterator[tuple[Timeline, DwellSaver]]:
    """A saver with ``save_after_s`` 5 over an SQLite file; a car moving at t=0 and stopped
    with a passenger between floors at t=1 (a dwell starts; no QoS 1 reading waits on it)."""
    db = make_engine(f"sqlite:///{tmp_path / 'steward.db'}")
    migrate(db)
    try:
        tl = Timeline()
        saver = DwellSaver(tl.engine, session_factory(db), tl.clock, save_after_s=5.0)
        tl.at(0, moving=True, direction="up", door_zone=False, occupied=True)
        tl.at(1, **TRAPPED)
        yield tl, saver
    finally:
        db.dispose()


def test_a_dwell_nobody_waits_on_is_written_once_it_has_run_save_after_s(
    tmp_path: Path,
) -> None:
    """QoS 0 dwells (no ack waiting): most end within seconds (a door open at a landing), and
    writing then deleting each one cost the busy estate a sixth of its interpreter time."""
    with stopped_at_t1(tmp_path) as (tl, saver):
        assert saver.save()
        assert rows(saver) == 0  # 0 s old
        tl.tick(5.5)
        assert saver.save()
        assert rows(saver) == 0  # first seen at t=1: 4.5 s
        tl.tick(6.5)
        assert saver.save()
        assert rows(saver) == 1  # 5.5 s: written
        [loaded] = load_dwells(saver.sessions)
        assert loaded.since == {"elevator.entrapment": tl.t0 + 1}

        tl.at(8, moving=True, direction="down")  # released
        assert saver.save()
        assert rows(saver) == 0
        assert (saver.stats.rows_written, saver.stats.rows_deleted) == (1, 1)

        tl.at(10, **TRAPPED)  # a second stop, over before it is 5 s old
        assert saver.save()
        tl.at(12, moving=True, direction="up")
        assert saver.save()
        tl.tick(20)
        assert saver.save()
        assert rows(saver) == 0
        assert (saver.stats.rows_written, saver.stats.rows_deleted) == (1, 1)  # never written

        tl.at(21, **TRAPPED)  # a QoS 1 reading starts this one: written at the next save
        acked: list[str] = []
        saver.submit(lambda: acked.append("t=21"), tl.ref.key)
        assert saver.save()
        assert (rows(saver), acked) == (1, ["t=21"])


def test_a_clean_stop_writes_the_young_dwells_too(tmp_path: Path) -> None:
    with stopped_at_t1(tmp_path) as (_tl, saver):
        assert saver.save()
        assert rows(saver) == 0
        saver.stop()  # never started: stop is the last save
        assert rows(saver) == 1
