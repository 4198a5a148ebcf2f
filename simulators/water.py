"""A 4–20 mA water-pressure transmitter (0–1.6 MPa) on a domestic or fire network.

Domestic supply follows the residents' day: it sags with demand (a morning peak around 07:30,
an evening one around 19:00) and wanders with the instantaneous draw (a mean-reverting
fluctuation of about ±0.015 MPa over minutes). A fire main sits near its set point with the
jockey pump's slow saw-tooth. Every reading carries the transmitter's own noise (about 0.5 %
of full scale), so a healthy sensor never reads a flat line.

``current_ma`` is the loop current the pressure implies, so a NAMUR NE 43 fault (< 3.6 mA)
tells a broken sensor from an outage (domain-rules-research.md §2.4); during such a fault the
transmitter's pressure value is clipped to its range (0 MPa for a fail-low loop), as IoT
transmitters do, and only the current says what is wrong.

The sensor reports every ``report_s`` and also at once when something happens (an injected
incident) and when a change has settled (the end of a ramp): the report-on-event behaviour of
IoT loggers, which lets the rules see a short dip that a one-minute sample could miss.
"""

from __future__ import annotations

import math
import random
from datetime import tzinfo
from typing import Literal

from gateway.topics import DeviceRef, Kind
from simulators.base import SHANGHAI, Payload, SimDevice, local_hour

FULL_SCALE_MPA = 1.6
Network = Literal["domestic", "fire"]
DEFAULT_SETPOINT_MPA: dict[str, float] = {"domestic": 0.30, "fire": 0.35}
DEMAND_DIP_MPA = 0.06
"""How far domestic supply sags at the height of the morning or evening peak."""
DRAW_SD_MPA = 0.015
DRAW_TAU_S = 300.0
NOISE_SD_MPA = 0.008
"""Transmitter noise: ±0.5 % of the 1.6 MPa span (keeps a healthy signal off a flat line)."""
EMPTY_PIPE_MPA = 0.005
EMPTY_PIPE_SD_MPA = 0.004
JOCKEY_PERIOD_S = 1800.0
JOCKEY_BAND_MPA = 0.03
Override = Literal["level", "drop"]


def loop_current_ma(pressure_mpa: float) -> float:
    """Loop current of a 4–20 mA transmitter spanning 0–``FULL_SCALE_MPA``."""
    clamped = min(max(pressure_mpa, 0.0), FULL_SCALE_MPA)
    return 4.0 + 16.0 * clamped / FULL_SCALE_MPA


def pressure_from_current(current_ma: float) -> float:
    return (current_ma - 4.0) / 16.0 * FULL_SCALE_MPA


def demand(hour: float) -> float:
    """Domestic demand through the day, 0–1: a morning peak around 07:30 and an evening one
    around 19:00 over a night lull (smooth: supply never steps)."""
    morning = math.exp(-(((hour - 7.5) / 1.2) ** 2))
    evening = math.exp(-(((hour - 19.0) / 1.6) ** 2))
    daytime = 0.35 if 6.0 <= hour <= 23.0 else 0.1
    return min(1.0, max(morning, evening, daytime))


class WaterPressureSensor(SimDevice):
    kind = Kind.WATER_PRESSURE

    def __init__(
        self,
        ref: DeviceRef,
        *,
        rng: random.Random,
        start: float,
        network: Network = "domestic",
        setpoint_mpa: float | None = None,
        tz: tzinfo = SHANGHAI,
        report_s: float = 60.0,
    ) -> None:
        super().__init__(ref, rng=rng, start=start)
        self.network = network
        self.zone: str | None = None
        """The supply zone, when it comes from a site file."""
        self.high_limit_mpa: float | None = None
        """The site file's ``max_mpa`` for this sensor (the high-pressure limit), if any."""
        self.setpoint_mpa = DEFAULT_SETPOINT_MPA[network] if setpoint_mpa is None else setpoint_mpa
        self.tz = tz
        self.report_s = report_s
        self._jockey_phase = rng.uniform(0, JOCKEY_PERIOD_S)
        self._draw_mpa = rng.gauss(0.0, DRAW_SD_MPA) if network == "domestic" else 0.0
        self._override: Override | None = None
        self._value = 0.0
        self._w0 = self._w1 = 0.0
        self._w_at = start
        self._ramp_s = 1.0
        self._marks: list[float] = []
        self._fault_current_ma: float | None = None
        self._stuck: Payload | None = None
        self._spike_mpa: float | None = None

    def _advance(self, now: float) -> None:
        if self.network == "domestic":  # exact Ornstein-Uhlenbeck step of the draw
            keep = math.exp(-(now - self._t) / DRAW_TAU_S)
            spread = DRAW_SD_MPA * math.sqrt(1 - keep * keep)
            self._draw_mpa = self._draw_mpa * keep + spread * self.rng.gauss(0.0, 1.0)

    def _next_report(self, last: float) -> float:
        due = last + self.report_s
        for mark in self._marks:
            if mark > last:
                return min(due, mark)
        return due

    def normal_pressure(self) -> float:
        """The supply's own pressure now: set point, demand, jockey pump (no incident)."""
        if self.network == "domestic":
            return self.setpoint_mpa - DEMAND_DIP_MPA * demand(local_hour(self._t, self.tz))
        cycle = ((self._t + self._jockey_phase) % JOCKEY_PERIOD_S) / JOCKEY_PERIOD_S
        return self.setpoint_mpa + JOCKEY_BAND_MPA * (0.5 - cycle)  # leaks, the jockey tops up

    def _weight(self) -> float:
        progress = min(max((self._t - self._w_at) / self._ramp_s, 0.0), 1.0)
        return self._w0 + (self._w1 - self._w0) * progress

    def line_pressure(self) -> float:
        """The true pressure in the pipe at the device's current time (no sensor noise)."""
        if self._spike_mpa is not None:
            return self._spike_mpa
        base = self.normal_pressure()
        w = self._weight()
        if self._override == "level":
            base += w * (self._value - base)
        elif self._override == "drop":
            base -= w * self._value
        if self.network == "domestic":  # the draw matters less as the supply falls
            base += self._draw_mpa * min(1.0, max(base, 0.0) / self.setpoint_mpa)
        return base

    def _readings(self) -> Payload:
        if self._stuck is not None:
            return dict(self._stuck)
        true = self.line_pressure()
        if true < 0.01:  # an empty pipe: a few kPa of residual head, the zero never exact
            pressure = max(true + EMPTY_PIPE_MPA + self.rng.gauss(0.0, EMPTY_PIPE_SD_MPA), 0.0)
        else:
            pressure = true + self.rng.gauss(0.0, NOISE_SD_MPA)
        current = loop_current_ma(pressure)
        if self._fault_current_ma is not None:
            current = self._fault_current_ma + self.rng.gauss(0.0, 0.02)
            pressure = pressure_from_current(current)
        reported = min(max(pressure, 0.0), FULL_SCALE_MPA)  # the transmitter clips to range
        return {"pressure_mpa": round(reported, 4), "current_ma": round(current, 3)}

    # --- incidents --------------------------------------------------------------------------

    def burst(self, drop_mpa: float = 0.15, ramp_s: float = 30.0) -> None:
        """WTR-04: a pipe bursts downstream; the pressure falls by ``drop_mpa`` within
        ``ramp_s`` and stays low until ``restore``."""
        self._shift("drop", drop_mpa, ramp_s)

    def outage(self, ramp_s: float = 60.0) -> None:
        """WTR-01: supply lost (pump stopped, main shut); the pipe drains to about zero over
        ``ramp_s`` (a zone that residents keep drawing from empties in tens of minutes)."""
        self._shift("level", 0.0, ramp_s)

    def supply(self, mpa: float, ramp_s: float = 300.0) -> None:
        """The supply moves to ``mpa`` over ``ramp_s`` and stays there until ``restore``: a
        booster pump running slow (low), a failed pressure-reducing valve (high), a jockey
        pump that stopped (a fire main leaking down)."""
        self._shift("level", mpa, ramp_s)

    def restore(self, ramp_s: float = 60.0) -> None:
        """Repaired: the supply returns to normal over ``ramp_s``; the sensor is healthy."""
        self._fault_current_ma = None
        self._stuck = None
        self._spike_mpa = None
        if self._override is not None:
            self._w0, self._w1, self._w_at = self._weight(), 0.0, self._t
            self._ramp_s = max(ramp_s, 1e-3)
            self._marks.append(self._t + self._ramp_s)
        self._changed()

    def spike(self, mpa: float, duration_s: float = 2.0) -> None:
        """A transient (water hammer when a valve slams): the reading jumps to ``mpa`` for
        ``duration_s``."""
        self._spike_mpa = mpa
        self.after(duration_s, self._end_spike)
        self._changed()

    def _end_spike(self) -> None:
        self._spike_mpa = None
        self._changed()

    def sensor_fault(self, current_ma: float = 2.0) -> None:
        """WTR-07: transmitter or wiring fault; the loop current sits outside NAMUR NE 43's
        valid band (default fail-low 2 mA) whatever the real pressure."""
        self._fault_current_ma = current_ma
        self._changed()

    def sensor_stuck(self) -> None:
        """SEN-02: the reading freezes at its current value (flat line, no noise)."""
        self._stuck = self._readings()
        self._changed()

    def _shift(self, override: Override, value: float, ramp_s: float) -> None:
        if not math.isfinite(ramp_s) or ramp_s <= 0:
            raise ValueError("ramp_s must be a positive number of seconds")
        self._override, self._value = override, value
        self._w0, self._w1, self._w_at, self._ramp_s = 0.0, 1.0, self._t, ramp_s
        self._marks.append(self._t + ramp_s)
        self._changed()
