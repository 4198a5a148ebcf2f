"""The FastAPI app factory. Its lifespan owns the ``Steward`` runtime (gateway, rules,
writer, database) unless the caller passes one it already owns (tests, the demo)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api.access import API_PREFIX, Gate, announce_access, authorize
from api.errors import V1_RESPONSES, install_error_handlers
from api.routes import (
    admin,
    alerts,
    deliveries,
    devices,
    health,
    keys,
    patrol,
    reports,
    silences,
    stream,
    telemetry,
    tickets,
)
from steward import __version__
from steward.runtime import Steward
from steward.settings import Settings

log = logging.getLogger("steward.api")


def create_app(steward: Steward | None = None, settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if steward is not None:
            app.state.steward = steward
            announce_access(steward)
            yield
            return
        owned = Steward(settings or Settings())
        owned.start()
        app.state.steward = owned
        announce_access(owned)
        try:
            yield
        finally:
            owned.stop()

    app = FastAPI(
        title="Steward",
        version=__version__,
        summary="Facility monitoring and auto-ticketing for property management",
        lifespan=lifespan,
    )
    app.state.access_gate = Gate()
    install_error_handlers(app)
    for router in (
        tickets.router,
        stream.router,
        alerts.router,
        devices.router,
        deliveries.router,
        patrol.router,
        reports.router,
        silences.router,
        admin.router,
        telemetry.router,
        keys.router,
    ):
        app.include_router(
            router,
            prefix=API_PREFIX,
            dependencies=[Depends(authorize)],
            responses=V1_RESPONSES,
        )
    app.include_router(health.router)
    return app
