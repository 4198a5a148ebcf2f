"""An elevator car that serves passengers, and the incidents the rules must recognise.

Normal service: the car idles at a landing with the door closed; passengers call it (a
Poisson stream whose rate follows the residential day, busiest 07–09 and 17–20); it travels
at rated speed (3 m per floor, trapezoidal profile), levels, opens its door (2 s opening, 5 s
open, 3 s closing), passengers alight and board, and it serves the next stop. There is no
floor 0 (floors -1 → 1, as in Chinese buildings).

Invariants of normal service: the door is closed whenever the car moves; the door is only
open level at a landing (``door_zone`` true); the floor stays within [min_floor, max_floor].
Injected incidents (domain-rules-research.md §1.4, rule table §6) break them on purpose.
Most of them wait for the car to be free (``when_idle``: it finishes the passengers it has and
takes no new calls meanwhile), so a scripted fault never strands a passenger by accident, and
end by themselves after a duration (``SimDevice.after``).

Safety-critical faults (unintended movement, overspeed, overrun) end with the controller taking
the car out of service until someone resets it (``release``), as a real controller does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import tzinfo
from enum import Enum
from typing import Literal

from gateway.payloads import Door, Mode
from gateway.topics import DeviceRef, Kind
from simulators.base import (
    PEAK_FACTOR_MAX,
    SHANGHAI,
    Payload,
    SimDevice,
    local_hour,
    peak_factor,
)
from simulators.motion import Motion

FLOOR_HEIGHT_M = 3.0
DOOR_ZONE_M = 0.2
"""Half-height of the unlocking zone around a landing (EN 81-20: ±0.2 m)."""
ACCEL_MPS2 = 0.8
CREEP_MPS = 0.2
RELEVEL_MPS = 0.3
DOOR_OPENING_S = 2.0
DOOR_OPEN_S = 5.0
DOOR_CLOSING_S = 3.0
MAX_WAITING = 40
"""More callers than this and the next ones take the stairs (keeps a stuck car bounded)."""
INF = math.inf


class Phase(Enum):
    IDLE = "idle"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    TRAVEL = "travel"
    CREEP = "creep"
    """Unintended movement with the door open (UCM)."""
    HALTED = "halted"
    """Stopped by an incident; only ``release()`` or restored power brings it back."""
    RELEVEL = "relevel"
    """Levelling by a few centimetres with the door open, inside the door zone (EN 81-20
    allows it): the car moves on at most one sample."""
    CLOSED_WAIT = "closed_wait"
    """Door just closed at a landing, about to reopen (a door that keeps cycling)."""


_DOOR_BY_PHASE = {
    Phase.IDLE: Door.CLOSED,
    Phase.TRAVEL: Door.CLOSED,
    Phase.OPENING: Door.OPENING,
    Phase.OPEN: Door.OPEN,
    Phase.CLOSING: Door.CLOSING,
    Phase.CREEP: Door.OPEN,
    Phase.RELEVEL: Door.OPEN,
    Phase.CLOSED_WAIT: Door.CLOSED,
}
RELEVEL_SINK_M = 0.03
RELEVEL_CREEP_MPS = 0.05
CLOSED_WAIT_S = 1.0
OVERTRAVEL_M = 0.6
"""How far past a terminal landing an overrunning car stops (outside the door zone)."""
OVERSHOOT_M = 0.12
"""A car that stops this far past a landing is still in its door zone and relevels."""
Circuit = Literal["safety", "door_lock"]


class ElevatorModel(SimDevice):
    kind = Kind.ELEVATOR

    def __init__(
        self,
        ref: DeviceRef,
        *,
        rng: random.Random,
        start: float,
        min_floor: int = -2,
        max_floor: int = 30,
        rated_speed_mps: float = 1.75,
        calls_per_hour: float = 20.0,
        tz: tzinfo = SHANGHAI,
        moving_report_s: float = 1.0,
        idle_report_s: float = 5.0,
    ) -> None:
        super().__init__(ref, rng=rng, start=start)
        self.landings = [f for f in range(min_floor, max_floor + 1) if f != 0]
        if len(self.landings) < 2:
            raise ValueError(
                f"{ref.key}: an elevator needs two landings ({min_floor}..{max_floor})"
            )
        self.min_floor, self.max_floor = self.landings[0], self.landings[-1]
        self.rated_speed_mps = rated_speed_mps
        self.calls_per_hour = calls_per_hour
        self.tz = tz
        self.moving_report_s = moving_report_s
        self.idle_report_s = idle_report_s
        self._lobby = self.landings.index(1) if 1 in self.landings else 0
        self._pos_m = self._lobby * FLOOR_HEIGHT_M
        self._phase = Phase.IDLE
        self._phase_end = INF
        self._motion: Motion | None = None
        self._target = self._lobby
        self._stops: list[int] = []  # landing indices to serve, first come first served
        self._waiting: dict[int, list[int]] = {}  # landing index -> callers' destinations
        self._riders: list[int] = []  # destinations of the passengers in the car
        self._hold_open = False  # near miss: the passenger walks out once the door has dwelt
        self._halted_door = Door.CLOSED
        self._alarm_at = INF
        self._alarm_release_at = INF
        self.alarm = False
        self.mode = Mode.NORMAL
        self.mains_power = True
        self.safety_circuit_ok = True
        self.door_lock_ok = True
        self.occupancy_sensor_ok = True
        self.fault_codes: list[str] = []
        self._pending: Callable[[], None] | None = None
        """An incident waiting for the car to be free (``when_idle``)."""
        self._hold_calls = False
        self._door_open_s: float | None = None
        """How long the door stays open the next time it opens (default ``DOOR_OPEN_S``)."""
        self._reopens = 0
        self._resume_open_s = DOOR_OPEN_S
        self._arrival: Callable[[], None] | None = None
        """Replaces the normal arrival (levelling, door opening) once."""
        self._recall = False
        self._surge: tuple[float, float, float] | None = None
        """(from, to, ratio): the drive runs ``ratio`` × the profile speed meanwhile."""
        self._floor_override: int | None = None
        self._next_call_at = self._draw_next_call(start)

    # --- what the terminal sees -------------------------------------------------------------

    @property
    def moving(self) -> bool:
        return self._phase in (Phase.TRAVEL, Phase.CREEP, Phase.RELEVEL)

    @property
    def floor(self) -> int:
        if self._floor_override is not None:
            return self._floor_override
        return self.landings[self._nearest()]

    @property
    def door(self) -> Door:
        return self._halted_door if self._phase is Phase.HALTED else _DOOR_BY_PHASE[self._phase]

    @property
    def door_zone(self) -> bool:
        return abs(self._pos_m - self._nearest() * FLOOR_HEIGHT_M) <= DOOR_ZONE_M

    @property
    def occupied(self) -> bool | None:
        return bool(self._riders) if self.occupancy_sensor_ok else None

    @property
    def speed_mps(self) -> float:
        if self._motion is None or not self.moving:
            return 0.0
        speed = self._motion.at(self._t)[1]
        surge = self._surge
        if surge is not None and surge[0] <= self._t < surge[1] and self._phase is Phase.TRAVEL:
            speed *= surge[2]
        return speed

    @property
    def direction(self) -> str:
        if self._motion is None or not self.moving:
            return "none"
        return "up" if self._motion.sign > 0 else "down"

    def _readings(self) -> Payload:
        return {
            "floor": self.floor,
            "moving": self.moving,
            "direction": self.direction,
            "door": self.door.value,
            "door_zone": self.door_zone,
            "occupied": self.occupied,
            "alarm": self.alarm,
            "mode": self.mode.value,
            "mains_power": self.mains_power,
            "speed_mps": round(self.speed_mps, 2),
            "safety_circuit_ok": self.safety_circuit_ok,
            "door_lock_ok": self.door_lock_ok,
            "fault_codes": list(self.fault_codes),
        }

    def _next_report(self, last: float) -> float:
        alarm_change = min(self._alarm_at, self._alarm_release_at)
        if self._phase is Phase.HALTED:
            return min(last + self.idle_report_s, alarm_change)
        if self._phase is Phase.IDLE:  # the next call sets the car going
            return min(last + self.idle_report_s, self._next_call_at, alarm_change)
        return min(last + self.moving_report_s, self._phase_end, alarm_change)

    # --- time -------------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        while True:
            due = min(self._phase_end, self._next_call_at, self._alarm_at, self._alarm_release_at)
            if due > now:
                break
            self._move_to(due)
            self._fire(due)
        self._move_to(now)

    def _move_to(self, t: float) -> None:
        if self._motion is not None:
            self._pos_m = self._motion.at(t)[0]
        self._t = t

    def _fire(self, t: float) -> None:
        if self._alarm_at <= t:
            self.alarm, self._alarm_at = True, INF
        if self._alarm_release_at <= t:
            self.alarm, self._alarm_release_at = False, INF
        if self._next_call_at <= t:
            self._next_call_at = self._draw_next_call(t)
            self._on_call()
        if self._phase_end <= t:
            self._end_phase()

    def _end_phase(self) -> None:
        phase = self._phase
        if phase is Phase.OPENING:
            self._exchange_passengers()
            hold, self._door_open_s = self._door_open_s, None
            self._start(Phase.OPEN, DOOR_OPEN_S if hold is None else hold)
        elif phase is Phase.OPEN:
            if self._hold_open:
                self._riders.clear()
                self._hold_open = False
            self._start(Phase.CLOSING, DOOR_CLOSING_S)
        elif phase is Phase.CLOSING:
            if self._reopens > 0:
                self._reopens -= 1
                self._start(Phase.CLOSED_WAIT, CLOSED_WAIT_S)
                return
            self._start(Phase.IDLE, INF)
            self._dispatch()
        elif phase is Phase.CLOSED_WAIT:
            self._start(Phase.OPENING, DOOR_OPENING_S)
        elif phase is Phase.TRAVEL:
            self._arrive()
        elif phase is Phase.RELEVEL:
            self._pos_m = self._nearest() * FLOOR_HEIGHT_M
            self._motion = None
            self._start(Phase.OPEN, self._resume_open_s)
        elif phase is Phase.CREEP:
            self.safety_circuit_ok = False  # the safety gear caught the car
            self._add_fault("05")
            self.mode = Mode.OUT_OF_SERVICE  # UCM: blocked until a competent person resets it
            self._halt(Door.OPEN)

    def _start(self, phase: Phase, duration: float) -> None:
        self._phase = phase
        self._phase_end = self._t + duration

    # --- normal service ---------------------------------------------------------------------

    @property
    def _in_service(self) -> bool:
        return (
            self.mode is Mode.NORMAL
            and self.mains_power
            and self.safety_circuit_ok
            and self.door_lock_ok
            and self._phase is not Phase.HALTED
        )

    def _draw_next_call(self, after: float) -> float:
        """Next call of a Poisson stream whose rate follows ``peak_factor`` (by thinning)."""
        if self.calls_per_hour <= 0:
            return INF
        peak_rate = self.calls_per_hour * PEAK_FACTOR_MAX / 3600.0
        t = after
        while True:
            t += self.rng.expovariate(peak_rate)
            if self.rng.random() * PEAK_FACTOR_MAX <= peak_factor(local_hour(t, self.tz)):
                return t

    def _draw_trip(self) -> tuple[int, int]:
        """(origin, destination) landing indices. Most trips start or end at the lobby (or a
        garage level): mornings go down to it, evenings come up from it."""
        rng, n = self.rng, len(self.landings)
        upper = range(self._lobby + 1, n)
        if not upper or rng.random() < 0.15:  # a visit between two floors
            origin, destination = rng.sample(range(n), 2)
            return origin, destination
        basements = range(self._lobby)
        ground = rng.choice(basements) if basements and rng.random() < 0.2 else self._lobby
        hour = local_hour(self._t, self.tz)
        down_share = 0.8 if 6 <= hour < 10 else 0.2 if 16 <= hour < 21 else 0.5
        up = rng.choice(upper)
        return (up, ground) if rng.random() < down_share else (ground, up)

    def _on_call(self) -> None:
        origin, destination = self._draw_trip()
        crowded = sum(map(len, self._waiting.values())) >= MAX_WAITING
        if self._hold_calls or not self._in_service or crowded:
            return  # nobody answers: the caller takes the stairs
        if self._phase is Phase.OPEN and origin == self._nearest():
            self._board(destination)
            return
        self._waiting.setdefault(origin, []).append(destination)
        if origin not in self._stops:
            self._stops.append(origin)
        self._dispatch()

    def _dispatch(self) -> None:
        if self._phase is not Phase.IDLE or not self._in_service:
            return
        if self._pending is not None and not self._stops:
            action, self._pending = self._pending, None
            self._hold_calls = False
            action()
            return
        if not self._stops:
            return
        target = self._stops[0]
        if target == self._nearest() and self._level():
            self._stops.pop(0)
            self._start(Phase.OPENING, DOOR_OPENING_S)
        else:
            self._travel_to(target, self.rated_speed_mps)

    def _travel_to(self, target: int, speed: float) -> None:
        self._target = target
        self._motion = Motion(
            self._t, self._pos_m, target * FLOOR_HEIGHT_M, speed, accel=ACCEL_MPS2
        )
        self._start(Phase.TRAVEL, self._motion.duration)

    def _arrive(self) -> None:
        self._pos_m = self._target * FLOOR_HEIGHT_M
        self._motion = None
        hook, self._arrival = self._arrival, None
        if hook is not None:
            hook()
            return
        if self._target in self._stops:
            self._stops.remove(self._target)
        if self._recall:
            self._door_open_s = INF  # fire recall: doors stay open at the lobby
        self._start(Phase.OPENING, DOOR_OPENING_S)

    def _exchange_passengers(self) -> None:
        here = self._nearest()
        self._riders = [d for d in self._riders if d != here]
        for destination in self._waiting.pop(here, []):
            self._board(destination)

    def _board(self, destination: int) -> None:
        self._riders.append(destination)
        if destination not in self._stops:
            self._stops.append(destination)

    def _nearest(self) -> int:
        index = round(self._pos_m / FLOOR_HEIGHT_M)
        return min(max(index, 0), len(self.landings) - 1)

    def _level(self) -> bool:
        return abs(self._pos_m - self._nearest() * FLOOR_HEIGHT_M) < 1e-6

    def _farthest(self) -> int:
        """The landing farthest from the car (the longest run it can make)."""
        here = self._nearest()
        return max(range(len(self.landings)), key=lambda i: abs(i - here))

    # --- incident plumbing ------------------------------------------------------------------

    def when_idle(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the car is free: it serves the passengers it has (callers from
        now on take the stairs), closes its door and runs ``action`` at that instant."""
        self._pending = action
        self._hold_calls = True
        self._dispatch()

    # --- incidents --------------------------------------------------------------------------

    def trap_between_floors(self, alarm_after_s: float | None = 20.0) -> None:
        """ELV-01: the car stops outside the door zone with a passenger, door closed; the
        passenger presses the alarm ``alarm_after_s`` later (None: never)."""
        self._ensure_rider()
        if not (self.moving and not self.door_zone):
            self._pos_m = self._between_floors()
        self._add_fault("04")
        self._halt(Door.CLOSED)
        self._alarm_at = INF if alarm_after_s is None else self._t + alarm_after_s
        self._changed()

    def trap_at_landing(self) -> None:
        """ELV-02: level at a landing, the door does not open, a passenger inside."""
        self._ensure_rider()
        self._pos_m = self._nearest() * FLOOR_HEIGHT_M
        self._halt(Door.CLOSED)
        self._changed()

    def alarm_at_landing_door_open(self, press_s: float = 3.0) -> None:
        """The EN 81-28 near miss: a passenger presses the alarm while the door is open at a
        landing, then walks out; the alarm is filtered (never latched) and service goes on."""
        self._ensure_rider()
        self._motion = None
        self._pos_m = self._nearest() * FLOOR_HEIGHT_M
        self._hold_open = True
        self._start(Phase.OPEN, press_s + DOOR_OPEN_S)
        self.alarm = True
        self._alarm_release_at = self._t + press_s
        self._changed()

    def stop_outside_zone_empty(self) -> None:
        """ELV-04 (code 04): the empty car stops between floors, door closed."""
        self._riders.clear()
        if not (self.moving and not self.door_zone):
            self._pos_m = self._between_floors()
        self._add_fault("04")
        self._halt(Door.CLOSED)
        self._changed()

    def door_open_while_moving(self, duration_s: float = 12.0) -> None:
        """ELV-05 (code 05, UCM): the car creeps away with its door open until the safety
        gear stops it, outside the door zone."""
        top = (len(self.landings) - 1) * FLOOR_HEIGHT_M
        travel = CREEP_MPS * duration_s
        end = self._pos_m + travel if self._pos_m + travel <= top else self._pos_m - travel
        self._stops.clear()
        self._waiting.clear()
        self.door_lock_ok = False
        self._motion = Motion(self._t, self._pos_m, end, CREEP_MPS)
        self._start(Phase.CREEP, self._motion.duration)
        self._changed()

    def power_cut(self, rescue: bool = True) -> None:
        """ELV-10: mains lost. With ``rescue`` (an automatic rescue device, usual in new
        residential lifts) the car creeps on its battery to the nearest landing, lets its
        passengers out and waits there, door closed; without, it stops where it is (between
        floors if it was running)."""
        self.mains_power = False
        if self._phase is not Phase.HALTED:
            if rescue:
                self._recover()
            else:
                self._halt(Door.CLOSED if self.door is Door.CLOSED else Door.OPEN)
        self._changed()

    def power_restored(self) -> None:
        """Mains back: a car stopped only by the power cut relevels and lets passengers out."""
        self.mains_power = True
        if not self.fault_codes and not self.alarm:
            self._recover()
        self._changed()

    def occupancy_sensor_fault(self) -> None:
        """The passenger sensor fails: ``occupied`` reads null."""
        self.occupancy_sensor_ok = False
        self._changed()

    def set_mode(self, mode: Mode) -> None:
        """Service mode (inspection, fire, ...); outside ``normal`` the car takes no calls."""
        self.mode = mode
        self._dispatch()
        self._changed()

    def release(self) -> None:
        """Rescue done: power and circuits back, alarm reset (end of alarm on site),
        passengers let out at the nearest landing, normal service."""
        self.alarm = False
        self._alarm_at = self._alarm_release_at = INF
        self.fault_codes.clear()
        self.mode = Mode.NORMAL
        self.mains_power = self.safety_circuit_ok = self.door_lock_ok = True
        self.occupancy_sensor_ok = True
        self._floor_override = None
        self._recall = False
        self._surge = None
        self._reopens = 0
        self._door_open_s = None
        self._arrival = None
        self._recover()
        self._changed()

    def alarm_in_car(self, press_s: float = 3.0) -> None:
        """ELV-03: a passenger on a long run presses the alarm button for ``press_s`` (door
        closed, car moving: not filtered), then rides on to their floor."""

        def go() -> None:
            target = self._farthest()
            self._riders.append(target)
            self._stops = [target]
            self._travel_to(target, self.rated_speed_mps)
            self._alarm_at = self._t + 1.0
            self._alarm_release_at = self._t + 1.0 + press_s
            self._changed()

        self.when_idle(go)

    def relevel_with_door_open(self) -> None:
        """The near miss of ELV-05: at a landing, with the door open, a heavy load sinks the
        car a few centimetres and it relevels in the door zone (well under a second)."""

        def go() -> None:
            self._door_open_s = DOOR_OPEN_S + 2.0
            self._start(Phase.OPENING, DOOR_OPENING_S)
            self.after(DOOR_OPENING_S + 1.5, relevel)
            self._changed()

        def relevel() -> None:
            if self._phase is not Phase.OPEN:
                return
            self._resume_open_s = max(self._phase_end - self._t, 1.0)
            landing = self._nearest() * FLOOR_HEIGHT_M
            self._pos_m = landing - RELEVEL_SINK_M
            self._motion = Motion(self._t, self._pos_m, landing, RELEVEL_CREEP_MPS)
            self._start(Phase.RELEVEL, self._motion.duration)
            self._changed()

        self.when_idle(go)

    def speed_run(self, ratio: float, duration_s: float, governor_trip: bool = False) -> None:
        """ELV-07: on its next run the drive holds ``ratio`` × rated speed for ``duration_s``
        of the cruise. With ``governor_trip`` the overspeed governor then trips: the safety
        gear stops the car where it is and the controller takes it out of service."""

        def go() -> None:
            target = self._farthest()
            self._travel_to(target, self.rated_speed_mps)
            begin = self._t + self.rated_speed_mps / ACCEL_MPS2 + 0.5
            self._surge = (begin, begin + duration_s, ratio)
            if governor_trip:
                self.after(begin + duration_s - self._t, self._governor_trip)
            self._changed()

        self.when_idle(go)

    def _governor_trip(self) -> None:
        self._surge = None
        self.safety_circuit_ok = False
        self.mode = Mode.OUT_OF_SERVICE
        self._halt(Door.CLOSED)
        self._changed()

    def overrun(self) -> None:
        """ELV-06: on a run to a terminal landing the car does not stop level but overtravels
        into the headroom (or the pit) until the final limit switch stops it: controller
        code 09 (top) or 10 (bottom), safety circuit open, out of service."""

        def go() -> None:
            top = len(self.landings) - 1
            target = top if self._nearest() < top else 0

            def overran() -> None:
                beyond = OVERTRAVEL_M if target == top else -OVERTRAVEL_M
                self._pos_m = target * FLOOR_HEIGHT_M + beyond
                self._add_fault("09" if target == top else "10")
                self.safety_circuit_ok = False
                self.mode = Mode.OUT_OF_SERVICE
                self._halt(Door.CLOSED)
                self._changed()

            self._arrival = overran
            self._travel_to(target, self.rated_speed_mps)
            self._changed()

        self.when_idle(go)

    def overshoot_and_relevel(self) -> None:
        """The near miss of ELV-06: the car stops a little past a terminal landing, still in
        its door zone, relevels and opens as usual."""

        def go() -> None:
            top = len(self.landings) - 1
            target = top if self._nearest() < top else 0

            def overshot() -> None:
                beyond = OVERSHOOT_M if target == top else -OVERSHOOT_M
                self._pos_m = target * FLOOR_HEIGHT_M + beyond
                self._travel_to(target, min(RELEVEL_MPS, self.rated_speed_mps))
                self._changed()

            self._arrival = overshot
            self._travel_to(target, self.rated_speed_mps)
            self._changed()

        self.when_idle(go)

    def circuit_fault(self, circuit: Circuit = "door_lock", duration_s: float = 60.0) -> None:
        """ELV-08: with the car at a landing, the safety or door-lock circuit opens (a landing
        door contact, a pit switch) for ``duration_s``; the car cannot run meanwhile."""

        def set_circuit(ok: bool) -> None:
            if circuit == "safety":
                self.safety_circuit_ok = ok
            else:
                self.door_lock_ok = ok
            self._dispatch()
            self._changed()

        def go() -> None:
            set_circuit(False)
            self.after(duration_s, lambda: set_circuit(True))

        self.when_idle(go)

    def hold_door_open(self, duration_s: float) -> None:
        """The door is held open at a landing for ``duration_s`` (a neighbour with luggage, a
        blocked door), then closes."""

        def go() -> None:
            self._door_open_s = duration_s
            self._start(Phase.OPENING, DOOR_OPENING_S)
            self._changed()

        self.when_idle(go)

    def door_cycling(self, cycles: int = 6) -> None:
        """ELV-09: a faulty light curtain: at a landing the door opens and closes ``cycles``
        times without the car leaving."""

        def go() -> None:
            self._reopens = cycles - 1
            self._start(Phase.OPENING, DOOR_OPENING_S)
            self._changed()

        self.when_idle(go)

    def door_fault_code(self, code: str = "03", duration_s: float = 120.0) -> None:
        """ELV-09 by controller code (02 door does not open, 03 does not close): the door
        stays open at a landing for ``duration_s`` with the code, then closes."""

        def go() -> None:
            self._add_fault(code)
            self._door_open_s = duration_s
            self._start(Phase.OPENING, DOOR_OPENING_S)
            self.after(DOOR_OPENING_S + duration_s, clear)
            self._changed()

        def clear() -> None:
            if code in self.fault_codes:
                self.fault_codes.remove(code)
            self._changed()

        self.when_idle(go)

    def controller_fault(self, code: str = "07", duration_s: float = 1800.0) -> None:
        """ELV-13: the controller reports ``code`` (07 position lost, 06 run-time limiter, 08
        restart blocked) and parks the empty car at its landing until a technician clears it
        ``duration_s`` later."""

        def go() -> None:
            self._add_fault(code)
            self._halt(Door.CLOSED)
            self.after(duration_s, self.release)
            self._changed()

        self.when_idle(go)

    def inspection(self, duration_s: float) -> None:
        """ELV-11: a technician switches the free car to inspection mode for ``duration_s``."""

        def go() -> None:
            self.set_mode(Mode.INSPECTION)
            self.after(duration_s, lambda: self.set_mode(Mode.NORMAL))

        self.when_idle(go)

    def fire_recall(self, duration_s: float | None = None) -> None:
        """ELV-11: the fire alarm recalls the car to the lobby (fire mode): it goes there, opens
        and stays open; ``duration_s`` later (None: never) the alarm is reset."""

        def go() -> None:
            self.mode = Mode.FIRE
            self._recall = True
            if self._nearest() == self._lobby and self._level():
                self._door_open_s = INF
                self._start(Phase.OPENING, DOOR_OPENING_S)
            else:
                self._travel_to(self._lobby, self.rated_speed_mps)
            if duration_s is not None:
                self.after(duration_s, self.fire_reset)
            self._changed()

        self.when_idle(go)

    def fire_reset(self) -> None:
        """The fire alarm is reset: normal mode, the door closes, service resumes."""
        self.mode = Mode.NORMAL
        self._recall = False
        self._door_open_s = None  # if the door is still opening, it closes after the usual dwell
        if self._phase is Phase.OPEN:
            self._start(Phase.CLOSING, DOOR_CLOSING_S)
        self._dispatch()
        self._changed()

    def floor_glitch(self, floor: int, duration_s: float = 20.0) -> None:
        """SEN-03: the position counter reports an impossible ``floor`` for ``duration_s``,
        then recalibrates."""
        self._floor_override = floor
        self.after(duration_s, self._end_glitch)
        self._changed()

    def _end_glitch(self) -> None:
        self._floor_override = None
        self._changed()

    def _recover(self) -> None:
        here = self._nearest()
        self._riders = [here for _ in self._riders]  # everyone leaves at this landing
        self._stops.clear()
        self._waiting.clear()
        self._hold_open = False
        self._motion = None
        if not self._level():
            self._travel_to(here, min(RELEVEL_MPS, self.rated_speed_mps))
        elif self.door is not Door.CLOSED:
            self._riders.clear()
            self._start(Phase.OPEN, DOOR_OPEN_S)
        elif self._riders:
            self._start(Phase.OPENING, DOOR_OPENING_S)
        else:
            self._start(Phase.IDLE, INF)
            self._dispatch()

    def _halt(self, door: Door) -> None:
        self._motion = None
        self._halted_door = door
        self._stops.clear()
        self._waiting.clear()
        self._hold_open = False
        self._start(Phase.HALTED, INF)

    def _ensure_rider(self) -> None:
        if not self._riders:
            here = self._nearest()
            self._riders.append(
                self.rng.choice([i for i in range(len(self.landings)) if i != here])
            )

    def _between_floors(self) -> float:
        """A height well outside any door zone, next to the nearest landing."""
        here = self._nearest()
        offset = 0.45 * FLOOR_HEIGHT_M
        return (here * FLOOR_HEIGHT_M) + (offset if here < len(self.landings) - 1 else -offset)

    def _add_fault(self, code: str) -> None:
        if code not in self.fault_codes:
            self.fault_codes.append(code)
