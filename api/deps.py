"""Request-scoped access to the running ``Steward`` that the app's lifespan owns."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from steward.runtime import Steward


def get_steward(request: Request) -> Steward:
    steward: Steward = request.app.state.steward
    return steward


StewardDep = Annotated[Steward, Depends(get_steward)]


def require_api_key(request: Request) -> None:
    """With ``STEWARD_ADMIN_API_KEY`` set, every ``/api/v1`` route needs
    ``Authorization: Bearer <key>``. Roles and site scopes come with the access-control work."""
    steward: Steward = request.app.state.steward
    expected = steward.settings.admin_api_key
    if expected is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'")
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise HTTPException(403, "API key not accepted")
