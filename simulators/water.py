"""A 4–20 mA water-pressure transmitter (0–1.6 MPa) on a domestic or fire network.

Domestic supply dips with demand (morning and evening peaks); a fire main sits near its
set point with the jockey pump's slow saw-tooth. ``current_ma`` is the loop current the
pressure implies, so a NAMUR NE 43 fault (< 3.6 mA) tells a broken sensor from an outage
(domain-rules-research.md §2.4).
"""

from __future__ import annotations

import math
import random
from datetime import tzinfo
from typing import Literal

from gateway.topics import DeviceRef, Kind
from simulators.base import SHANGHAI, Payload, SimDevice, local_hour, peak_factor

FULL_SCALE_MPA = 1.6
Network = Literal["domestic", "fire"]
DEFAULT_SETPOINT_MPA: dict[str, float] = {"domestic": 0.30, "fire": 0.35}
DEMAND_DIP_MPA = 0.06
JOCKEY_PERIOD_S = 1800.0
JOCKEY_BAND_MPA = 0.03


def loop_current_ma(pressure_mpa: float) -> float:
    """Loop current of a 4–20 mA transmitter spanning 0–``FULL_SCALE_MPA``."""
    clamped = min(max(pressure_mpa, 0.0), FULL_SCALE_MPA)
    return 4.0 + 16.0 * clamped / FULL_SCALE_MPA


def pressure_from_current(current_ma: float) -> float:
    return (current_ma - 4.0) / 16.0 * FULL_SCALE_MPA


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
        self.setpoint_mpa = DEFAULT_SETPOINT_MPA[network] if setpoint_mpa is None else setpoint_mpa
        self.tz = tz
        self.report_s = report_s
        self._jockey_phase = rng.uniform(0, JOCKEY_PERIOD_S)
        self._event: Literal["burst", "outage"] | None = None
        self._event_at = 0.0
        self._drop_mpa = 0.0
        self._ramp_s = 1.0
        self._fault_current_ma: float | None = None
        self._stuck: Payload | None = None

    def _advance(self, now: float) -> None:
        """The pressure is a function of time; nothing to integrate."""

    def _next_report(self, last: float) -> float:
        return last + self.report_s

    def line_pressure(self) -> float:
        """The true pressure in the pipe at the device's current time (no sensor noise)."""
        t = self._t
        base = self.setpoint_mpa
        if self.network == "domestic":
            base -= DEMAND_DIP_MPA * peak_factor(local_hour(t, self.tz)) / 3.0
        else:
            cycle = ((t + self._jockey_phase) % JOCKEY_PERIOD_S) / JOCKEY_PERIOD_S
            base += JOCKEY_BAND_MPA * (0.5 - cycle)  # leaks down, the jockey pump tops up
        progress = min(max((t - self._event_at) / self._ramp_s, 0.0), 1.0)
        if self._event == "burst":
            return base - self._drop_mpa * progress
        if self._event == "outage":
            return base * (1.0 - progress)
        return base

    def _readings(self) -> Payload:
        if self._stuck is not None:
            return dict(self._stuck)
        noise = self.rng.gauss(0.0, 0.012 if self._event == "burst" else 0.004)
        pressure = self.line_pressure() + noise
        if self._event == "outage" and self.line_pressure() < 0.01:
            pressure = abs(noise) * 0.5  # an empty pipe: a few kPa of residual head
        current = loop_current_ma(pressure)
        if self._fault_current_ma is not None:
            current = self._fault_current_ma + self.rng.gauss(0.0, 0.02)
        reported = min(max(pressure_from_current(current), -0.1), 2.5)
        return {"pressure_mpa": round(reported, 4), "current_ma": round(current, 3)}

    # --- incidents --------------------------------------------------------------------------

    def burst(self, drop_mpa: float = 0.15, ramp_s: float = 30.0) -> None:
        """WTR-04: a pipe bursts downstream; the pressure falls by ``drop_mpa`` within
        ``ramp_s`` and stays low, noisier than usual."""
        self._start_event("burst", ramp_s)
        self._drop_mpa = drop_mpa

    def outage(self, ramp_s: float = 60.0) -> None:
        """WTR-01: supply lost (pump stopped, main shut); the pipe drains to about zero."""
        self._start_event("outage", ramp_s)

    def sensor_fault(self, current_ma: float = 2.0) -> None:
        """WTR-07: transmitter or wiring fault; the loop current sits outside NAMUR NE 43's
        valid band (default fail-low 2 mA) whatever the real pressure."""
        self._fault_current_ma = current_ma
        self._changed()

    def sensor_stuck(self) -> None:
        """SEN-02: the reading freezes at its last value (flat line, no noise)."""
        self._stuck = self._readings()
        self._changed()

    def restore(self) -> None:
        """Repaired: normal supply and a healthy sensor."""
        self._event = None
        self._fault_current_ma = None
        self._stuck = None
        self._changed()

    def _start_event(self, event: Literal["burst", "outage"], ramp_s: float) -> None:
        if not math.isfinite(ramp_s) or ramp_s <= 0:
            raise ValueError("ramp_s must be a positive number of seconds")
        self._event, self._event_at, self._ramp_s = event, self._t, ramp_s
        self._changed()
