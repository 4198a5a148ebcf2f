"""An elevator car that serves passengers, and the incidents the rules must recognise.

Normal service: the car idles at a landing with the door closed; passengers call it (a
Poisson stream whose rate follows the residential day, busiest 07–09 and 17–20); it travels
at rated speed (3 m per floor, trapezoidal profile), levels, opens its door (2 s opening, 5 s
open, 3 s closing), passengers alight and board, and it serves the next stop. There is no
floor 0 (floors -1 → 1, as in Chinese buildings).

Invariants of normal service: the door is closed whenever the car moves; the door is only
open level at a landing (``door_zone`` true); the floor stays within [min_floor, max_floor].
Injected incidents (domain-rules-research.md §1.4, rule table §6) break them on purpose.
"""

from __future__ import annotations

import math
import random
from datetime import tzinfo
from enum import Enum

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


_DOOR_BY_PHASE = {
    Phase.IDLE: Door.CLOSED,
    Phase.TRAVEL: Door.CLOSED,
    Phase.OPENING: Door.OPENING,
    Phase.OPEN: Door.OPEN,
    Phase.CLOSING: Door.CLOSING,
    Phase.CREEP: Door.OPEN,
}


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
        self._next_call_at = self._draw_next_call(start)

    # --- what the terminal sees -------------------------------------------------------------

    @property
    def moving(self) -> bool:
        return self._phase in (Phase.TRAVEL, Phase.CREEP)

    @property
    def floor(self) -> int:
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
        return self._motion.at(self._t)[1]

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
            self._start(Phase.OPEN, DOOR_OPEN_S)
        elif phase is Phase.OPEN:
            if self._hold_open:
                self._riders.clear()
                self._hold_open = False
            self._start(Phase.CLOSING, DOOR_CLOSING_S)
        elif phase is Phase.CLOSING:
            self._start(Phase.IDLE, INF)
            self._dispatch()
        elif phase is Phase.TRAVEL:
            self._arrive()
        elif phase is Phase.CREEP:
            self.safety_circuit_ok = False  # the safety gear caught the car
            self._add_fault("05")
            self._halt(Door.OPEN)

    def _start(self, phase: Phase, duration: float) -> None:
        self._phase = phase
        self._phase_end = self._t + duration

    # --- normal service ---------------------------------------------------------------------

    @property
    def _in_service(self) -> bool:
        return self.mode is Mode.NORMAL and self.mains_power and self._phase is not Phase.HALTED

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
        if not self._in_service or sum(map(len, self._waiting.values())) >= MAX_WAITING:
            return  # nobody answers: the caller takes the stairs
        if self._phase is Phase.OPEN and origin == self._nearest():
            self._board(destination)
            return
        self._waiting.setdefault(origin, []).append(destination)
        if origin not in self._stops:
            self._stops.append(origin)
        self._dispatch()

    def _dispatch(self) -> None:
        if self._phase is not Phase.IDLE or not self._in_service or not self._stops:
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
        if self._target in self._stops:
            self._stops.remove(self._target)
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

    def power_cut(self) -> None:
        """ELV-10: mains lost; the car stops where it is (between floors if it was running)."""
        self.mains_power = False
        if self._phase is not Phase.HALTED:
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
        self._recover()
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
