"""A stored-pressure extinguisher with an IoT gauge: pressure, bracket switch, tilt.

The pressure sits in the green band with a slow random drift (mean-reverting over days) and a
small daily temperature swing; incidents are a slow leak, a discharge, removal from the
bracket, a unit charged outside its band and a flat battery (domain-rules-research.md §3,
rules FEX-01..04, SEN-04).
"""

from __future__ import annotations

import math
import random
from datetime import tzinfo

from gateway.topics import DeviceRef, Kind
from simulators.base import SHANGHAI, Payload, SimDevice, local_hour

DRIFT_TAU_S = 2 * 86400.0
DRIFT_SD_MPA = 0.01
TEMPERATURE_SWING_MPA = 0.01
DISCHARGE_MPA_PER_S = 0.1
BATTERY_DRAIN_PCT_PER_S = 0.002 / 3600


class ExtinguisherMonitor(SimDevice):
    kind = Kind.EXTINGUISHER

    def __init__(
        self,
        ref: DeviceRef,
        *,
        rng: random.Random,
        start: float,
        green_min_mpa: float = 1.0,
        green_max_mpa: float = 1.4,
        tz: tzinfo = SHANGHAI,
        report_s: float = 300.0,
    ) -> None:
        super().__init__(ref, rng=rng, start=start)
        if not green_min_mpa < green_max_mpa:
            raise ValueError(f"{ref.key}: green band {green_min_mpa}..{green_max_mpa} is empty")
        self.green_min_mpa, self.green_max_mpa = green_min_mpa, green_max_mpa
        span = green_max_mpa - green_min_mpa
        middle = (green_min_mpa + green_max_mpa) / 2
        self.nominal_mpa = middle + rng.uniform(-0.15, 0.15) * span  # charged unit to unit
        self._factory_mpa = self.nominal_mpa
        self.tz = tz
        self.report_s = report_s
        self.basement = False
        """In a basement or garage (half-monthly inspection); from the site file."""
        self.on_bracket = True
        self.tilt_deg = rng.uniform(0.0, 3.0)
        self.battery_pct = rng.uniform(55.0, 100.0)
        self._drift_mpa = 0.0
        self._lost_mpa = 0.0
        self._loss_rate_mpa_s = 0.0

    def _advance(self, now: float) -> None:
        dt = now - self._t
        keep = math.exp(-dt / DRIFT_TAU_S)  # exact Ornstein-Uhlenbeck step
        self._drift_mpa = self._drift_mpa * keep + DRIFT_SD_MPA * math.sqrt(
            1 - keep * keep
        ) * self.rng.gauss(0.0, 1.0)
        self._lost_mpa = min(self._lost_mpa + self._loss_rate_mpa_s * dt, self.nominal_mpa)
        self.battery_pct = max(self.battery_pct - BATTERY_DRAIN_PCT_PER_S * dt, 0.0)

    def _next_report(self, last: float) -> float:
        return last + self.report_s

    def pressure_mpa(self) -> float:
        hour = local_hour(self._t, self.tz)
        warmth = TEMPERATURE_SWING_MPA * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        charged = self.nominal_mpa + self._drift_mpa + warmth
        return min(max(charged - self._lost_mpa, 0.0), 3.0)

    def _readings(self) -> Payload:
        return {
            "pressure_mpa": round(self.pressure_mpa(), 3),
            "on_bracket": self.on_bracket,
            "tilt_deg": round(self.tilt_deg, 1),
            "battery_pct": round(self.battery_pct, 1),
        }

    # --- incidents --------------------------------------------------------------------------

    def leak(self, rate_mpa_per_h: float = 0.05) -> None:
        """FEX-01: a slow leak (valve seal); the gauge falls below the green band in hours."""
        self._loss_rate_mpa_s = rate_mpa_per_h / 3600.0
        self._changed()

    def discharge(self) -> None:
        """FEX-03: the extinguisher is discharged (fire or vandalism); pressure gone in
        seconds."""
        self._loss_rate_mpa_s = DISCHARGE_MPA_PER_S
        self._changed()

    def remove_from_bracket(self) -> None:
        """FEX-04: taken off its bracket and laid down."""
        self.on_bracket = False
        self.tilt_deg = self.rng.uniform(70.0, 90.0)
        self._changed()

    def knock(self, tilt_deg: float) -> None:
        """FEX-04 without removal: knocked askew, it hangs at ``tilt_deg`` on its bracket."""
        self.tilt_deg = tilt_deg
        self._changed()

    def return_to_bracket(self) -> None:
        self.on_bracket = True
        self.tilt_deg = self.rng.uniform(0.0, 3.0)
        self._changed()

    def recharge(self, mpa: float) -> None:
        """Recharged (or swapped for a unit charged) to ``mpa``: an overfilled unit sits above
        the green band (FEX-02), a tired one just above its lower edge."""
        self.nominal_mpa = mpa
        self._drift_mpa = 0.0
        self._changed()

    def set_battery(self, pct: float) -> None:
        """SEN-04: the monitor's battery is at ``pct`` (years of service, a cold garage)."""
        self.battery_pct = pct
        self._changed()

    def restore(self) -> None:
        """Serviced or replaced: recharged to its normal charge, on its bracket, new battery."""
        self._lost_mpa = self._loss_rate_mpa_s = 0.0
        self.nominal_mpa = self._factory_mpa
        self.battery_pct = max(self.battery_pct, 95.0)
        self.return_to_bracket()
