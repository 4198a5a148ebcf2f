"""Request-scoped access to the running ``Steward`` that the app's lifespan owns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from steward.runtime import Steward


async def get_steward(request: Request) -> Steward:
    # ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, a hand-off
    # (and back) on every request for what is an attribute read.
    steward: Steward = request.app.state.steward
    return steward


StewardDep = Annotated[Steward, Depends(get_steward)]
