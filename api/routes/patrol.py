"""``/api/v1/patrol/compliance``: how well key-area checkpoints are being patrolled."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.access import Caller
from api.deps import StewardDep
from api.errors import INVALID_INPUT
from api.params import IdFilter
from rules.patrol import PatrolView

router = APIRouter(prefix="/patrol", tags=["patrol"])


class Compliance(BaseModel):
    on_time: int
    late: int
    missed: int
    compliance_pct: float | None
    """On-time scans / (on-time scans + late scans + missed intervals), since Steward started."""


class CheckpointCompliance(Compliance):
    site: str
    device: str
    location: str
    route: str | None
    key_area: bool
    interval_min: int


class ComplianceReport(BaseModel):
    checkpoints: list[CheckpointCompliance]
    routes: dict[str, Compliance]
    shifts: dict[str, Compliance]


def _compliance(on_time: int, late: int, missed: int) -> Compliance:
    total = on_time + late + missed
    pct = round(100.0 * on_time / total, 1) if total else None
    return Compliance(on_time=on_time, late=late, missed=missed, compliance_pct=pct)


def _add(acc: dict[str, list[int]], key: str, counts: list[int]) -> None:
    row = acc.setdefault(key, [0, 0, 0])
    for i, n in enumerate(counts):
        row[i] += n


@router.get("/compliance", response_model=ComplianceReport, responses=INVALID_INPUT)
def compliance(steward: StewardDep, caller: Caller, site: IdFilter = None) -> ComplianceReport:
    checkpoints: list[CheckpointCompliance] = []
    routes: dict[str, list[int]] = {}
    shifts: dict[str, list[int]] = {}
    for state in steward.engine.device_states():
        view, device = state.view, state.device
        if not isinstance(view, PatrolView) or (site and device.ref.site != site):
            continue
        if not caller.sees(device.ref.site):
            continue
        counts = [view.on_time, view.late, view.missed]
        c = _compliance(*counts)
        checkpoints.append(
            CheckpointCompliance(
                site=device.ref.site,
                device=device.ref.device,
                location=device.location,
                route=view.params.route,
                key_area=view.params.key_area,
                interval_min=view.params.interval_min,
                **c.model_dump(),
            )
        )
        _add(routes, view.params.route or "(no route)", counts)
        for name, shift_counts in view.by_shift.items():
            _add(shifts, name, shift_counts)
    return ComplianceReport(
        checkpoints=sorted(checkpoints, key=lambda c: (c.site, c.device)),
        routes={k: _compliance(*v) for k, v in sorted(routes.items())},
        shifts={k: _compliance(*v) for k, v in sorted(shifts.items())},
    )
