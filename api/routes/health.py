"""Liveness, readiness (broker and database reachable) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from api.deps import StewardDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


class Readiness(BaseModel):
    status: str
    """``ready`` or ``not_ready``."""
    checks: dict[str, bool]
    """Each dependency (``broker``, ``database``): reachable or not."""


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is unreachable"}},
)
def readyz(steward: StewardDep) -> JSONResponse:
    checks = steward.readiness()
    ready = all(checks.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"status": "ready" if ready else "not_ready", "checks": checks},
    )


@router.get("/metrics", response_class=Response)
def metrics(steward: StewardDep) -> Response:
    return Response(generate_latest(steward.metrics), media_type=CONTENT_TYPE_LATEST)
