"""Operations: reload the site file without a restart."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StewardDep
from api.errors import documented, error

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/reload-config",
    responses={
        422: documented(
            "The site file was not applied (the last good one still runs); ``details`` "
            "lists every problem found",
            code="config_invalid",
            message="site file not applied; the last good one runs",
            details=["sites/oak.yaml: sites.0.buildings.0.devices.1.kind: unknown kind 'lift'"],
        )
    },
)
def reload_config(steward: StewardDep) -> JSONResponse:
    """Re-read ``STEWARD_SITE_CONFIG``. On any problem the running configuration stays and
    the answer (422) lists every problem; rule state and open tickets are kept either way.
    ``kill -HUP`` on the process does the same."""
    problems = steward.reload_config()
    if problems:
        return error(
            422, "config_invalid", "site file not applied; the last good one runs", problems
        )
    return JSONResponse(
        {"status": "applied", "sites": len(steward.config.sites), "devices": len(steward.registry)}
    )
