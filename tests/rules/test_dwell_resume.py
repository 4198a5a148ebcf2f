"""A dwell running when Steward stops is taken up by the next engine where it was (the saved
``Dwell``), not started again from the next message."""

from __future__ import annotations

from typing import Any

from rules.decision import Action
from rules.engine import Dwell, RulesEngine
from steward.site import DeviceRegistry, StewardConfig
from tests.rules.helpers import WATER, Timeline, fired

TRAPPED: dict[str, Any] = {
    "moving": False,
    "door": "closed",
    "door_zone": False,
    "occupied": True,
    "floor": 7,
}


def restart(tl: Timeline, dwells: list[Dwell]) -> None:
    """A new engine on the same clock that knows only the saved dwells."""
    tl.engine = RulesEngine(DeviceRegistry(StewardConfig()), StewardConfig().rules, tl.clock)
    tl.engine.resume(dwells)


def test_entrapment_dwell_survives_a_restart_and_fires_at_its_own_time() -> None:
    tl = Timeline()
    tl.at(0, moving=True, direction="up", door_zone=False, occupied=True)
    tl.at(1, **TRAPPED)
    tl.at(5, occupied=False)  # the PIR loses a still passenger: the view remembers one was seen
    dwells = list(tl.engine.dwells().values())
    assert [(d.reading.ref, d.since) for d in dwells] == [
        (tl.ref, {"elevator.entrapment": tl.t0 + 1})
    ]
    assert dwells[0].memo["occupied_seen"] is True

    restart(tl, dwells)  # down from t=5 to t=20, the device said nothing more
    assert tl.tick(20) == []
    assert tl.tick(30.5) == []  # 29.5 s since the car stopped
    out = tl.tick(31)
    assert fired(out) == ["elevator.entrapment"]
    assert out[0].evidence["held_s"] == 30.0  # counted from t=1, before the restart


def test_without_the_saved_view_the_dwell_would_end() -> None:
    """The memo matters: rebuilt from the latest reading alone (no passenger in it), the
    entrapment condition does not hold and the dwell would clear."""
    tl = Timeline()
    tl.at(0, moving=True, direction="up", door_zone=False, occupied=True)
    tl.at(1, **TRAPPED)
    tl.at(5, occupied=False)
    dwells = [Dwell(d.reading, d.since) for d in tl.engine.dwells().values()]
    restart(tl, dwells)
    assert "elevator.entrapment" not in fired(tl.tick(40))


def test_a_resumed_dwell_clears_when_the_next_reading_ends_the_condition() -> None:
    tl = Timeline()
    tl.at(1, **TRAPPED)
    restart(tl, list(tl.engine.dwells().values()))
    tl.at(10, **TRAPPED)  # the fields this timeline sends: still trapped
    assert tl.engine.dwells()[tl.ref.key].since == {"elevator.entrapment": tl.t0 + 1}
    tl.at(12, moving=True, direction="down")  # released before 30 s
    assert tl.engine.dwells() == {}
    assert fired(tl.tick(60)) == []


def test_water_outage_dwell_keeps_its_start_and_its_latched_state() -> None:
    tl = Timeline(ref=WATER)
    tl.water_every(0, 30, 10, 0.30)
    tl.water_every(40, 60, 10, 0.0, wobble=0.0)
    dwells = list(tl.engine.dwells().values())
    assert dwells and dwells[0].memo["outage"] is True
    assert "history" in dwells[0].memo
    restart(tl, dwells)  # down from t=60 to t=70
    out = tl.water_every(70, 200, 10, 0.0, wobble=0.0)
    opened = [(d.rule, d.at - tl.t0, d.evidence["held_s"]) for d in out if d.action is Action.FIRE]
    assert opened == [("water.outage", 160.0, 120.0)]  # as without a restart: 2 min from t=40


def test_the_saved_history_is_a_copy_and_comes_back_as_it_was() -> None:
    """The views keep their windows in lists: the memo must not share them (the saver writes
    it later, while the view goes on changing)."""
    tl = Timeline(ref=WATER)
    tl.water_every(0, 30, 10, 0.30)
    tl.water_every(40, 60, 10, 0.0, wobble=0.0)
    view = tl.engine.devices[WATER.key].view
    memo = tl.engine.dwells()[WATER.key].memo
    assert memo["history"] == [[at, p] for at, p in view.history]
    saved = [list(item) for item in memo["history"]]
    tl.water(70, 0.0)
    assert memo["history"] == saved  # not changed by the next reading
    restart(tl, list(tl.engine.dwells().values()))
    resumed = tl.engine.devices[WATER.key].view
    assert resumed.history == view.history
    assert all(type(item) is tuple for item in resumed.history)
