"""Request-scoped access to the running ``Steward`` that the app's lifespan owns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from steward.runtime import Steward


def get_steward(request: Request) -> Steward:
    steward: Steward = request.app.state.steward
    return steward


StewardDep = Annotated[Steward, Depends(get_steward)]
