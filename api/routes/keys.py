"""``/api/v1/keys``: make, list and revoke API keys (admin). ``steward keys`` does the same
from the command line, for the first key."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.access import Caller
from api.deps import StewardDep
from api.errors import INVALID_INPUT, documented, with_body
from api.params import RowId
from tickets.api_keys import ApiKeyNotFound, ApiKeyStore, ApiKeyView, Role
from tickets.schemas import Identifier, no_nul

log = logging.getLogger("steward.api.access")
router = APIRouter(prefix="/keys", tags=["keys"])
KeyId = RowId


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: Annotated[str, BeforeValidator(no_nul)] = Field(
        min_length=1, max_length=100, examples=["help desk"]
    )
    role: Role
    site: Identifier | None = None
    """Limit the key to one site; admin keys cannot be limited."""


class ApiKeyCreated(ApiKeyView):
    token: str
    """The key itself: shown this once, stored nowhere (only its hash is kept)."""


def _store(steward: StewardDep) -> ApiKeyStore:
    return ApiKeyStore(steward.sessions, steward.clock)


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=201,
    responses=with_body(
        {
            400: documented(
                "An admin key limited to a site (admin keys are never limited)",
                code="bad_request",
                message="admin keys cannot be limited to a site: config reload, deliveries and "
                "key management span every site (use an operator key for one site)",
            ),
        }
    ),
)
def create_key(steward: StewardDep, caller: Caller, body: ApiKeyIn) -> ApiKeyCreated:
    """A new key. The answer carries its token once; keep it, it cannot be shown again.
    400 for a site-scoped admin key."""
    view, token = _store(steward).create(
        name=body.name, role=body.role, site=body.site, created_by=caller.name
    )
    log.info(
        "API key stw_%s (%s, %s, site %s) created by %s",
        view.prefix,
        view.name,
        view.role.value,
        view.site or "all",
        caller.key,
    )
    return ApiKeyCreated(**view.model_dump(), token=token)


@router.get("", response_model=list[ApiKeyView])
def list_keys(steward: StewardDep) -> list[ApiKeyView]:
    """Every key, revoked ones too, oldest first; never a secret."""
    return _store(steward).list()


@router.delete(
    "/{key_id}",
    response_model=ApiKeyView,
    responses={
        404: documented("No key with this id", code="http_error", message="no API key 42"),
        **INVALID_INPUT,
    },
)
def revoke_key(steward: StewardDep, caller: Caller, key_id: KeyId) -> ApiKeyView:
    """Refused from the next request on. Revoking twice is harmless."""
    try:
        view = _store(steward).revoke(key_id=key_id)
    except ApiKeyNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    log.info("API key stw_%s (%s) revoked by %s", view.prefix, view.name, caller.key)
    return view
