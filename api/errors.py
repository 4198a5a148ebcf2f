"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``.

Each route documents the errors it can actually answer, built from the pieces below
(``documented``, ``ACCESS_RESPONSES``, ``INVALID_INPUT``...), each with a description of what
it means there: no router-wide list, so a read is never documented with a 409 it cannot send.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.access import Forbidden, Unauthenticated
from tickets.errors import Conflict, InvalidRequest, InvalidTransition, TicketNotFound
from tickets.lifecycle import Status, TicketAction, allowed_actions

log = logging.getLogger("steward.api")

Responses = dict[int | str, dict[str, Any]]


class ErrorBody(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    code: str
    """What went wrong, for programs: ``validation_error``, ``unauthorized``, ``forbidden``,
    ``ticket_not_found``, ``invalid_transition``, ``conflict``, ``bad_request``,
    ``http_error``..."""
    message: str
    """What went wrong, for people."""
    details: Any = None
    """More, where the error has it: see each error's own schema."""


class ErrorResponse(BaseModel):
    error: ErrorBody


class ValidationProblem(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    where: str
    """The part that failed, dotted: ``body.reporter.phone``, ``query.limit``, ``path.number``."""
    problem: str


class ValidationErrorBody(ErrorBody):
    code: Literal["validation_error"]
    details: list[ValidationProblem]
    """Every problem found, not only the first (which ``message`` repeats)."""


class ValidationErrorResponse(BaseModel):
    error: ValidationErrorBody


class InvalidTransitionDetails(BaseModel):
    """Why a ticket action was refused, and how to recover."""

    model_config = ConfigDict(
        use_attribute_docstrings=True,
        json_schema_extra={
            "example": {
                "status": Status.OPEN.value,
                "action": TicketAction.CLOSE.value,
                "allowed": [a.value for a in allowed_actions(Status.OPEN)],
            }
        },
    )

    status: Status
    """The ticket's status now."""
    action: str
    """The refused action: a lifecycle action, ``plan`` or ``reassign``."""
    allowed: list[TicketAction]
    """The lifecycle actions the ticket allows now, in lifecycle order (may be empty)."""


class InvalidTransitionBody(ErrorBody):
    code: Literal["invalid_transition"]
    details: InvalidTransitionDetails


class InvalidTransitionResponse(BaseModel):
    error: InvalidTransitionBody


ERROR_MODELS: tuple[type[BaseModel], ...] = (
    ErrorResponse,
    ValidationErrorResponse,
    InvalidTransitionResponse,
)
"""Every shape an error answer is documented with; each is an ``ErrorResponse``."""


def error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


def documented(
    description: str,
    *,
    code: str,
    message: str,
    details: Any = None,
    model: type[BaseModel] = ErrorResponse,
) -> dict[str, Any]:
    """One documented error answer: what it means on this route, and an example body."""
    example = {"error": {"code": code, "message": message, "details": details}}
    return {
        "model": model,
        "description": description,
        "content": {"application/json": {"example": example}},
    }


UNAUTHORIZED = documented(
    "No API key, or an unknown or revoked one",
    code="unauthorized",
    message="missing API key: send 'Authorization: Bearer <key>'",
)
FORBIDDEN = documented(
    "The key's role lacks the route's permission (or the permission needs an unscoped key)",
    code="forbidden",
    message="this key (viewer) lacks the 'tickets:manage' permission",
    details={"needed": "tickets:manage", "role": "viewer"},
)
FORBIDDEN_OR_OTHER_SITE = documented(
    "The key's role lacks the route's permission, or the body names a site outside the "
    "key's scope (``details.site``: the key's own)",
    code="forbidden",
    message="this key is limited to site 'oak' and cannot act on site 'elm'",
    details={"site": "oak"},
)
ACCESS_RESPONSES: Responses = {401: UNAUTHORIZED, 403: FORBIDDEN}
V1_RESPONSES: Responses = ACCESS_RESPONSES
"""What every ``/api/v1`` route may answer (the app adds it to each router): the key check.
Everything else a route declares itself, only what it can send."""

INVALID_INPUT: Responses = {
    422: documented(
        "The request breaks its schema (a path, query or header parameter, or the body); "
        "``details`` lists every problem",
        code="validation_error",
        message="body.actor: String should have at least 1 character",
        details=[{"where": "body.actor", "problem": "String should have at least 1 character"}],
        model=ValidationErrorResponse,
    )
}
"""For every route with a parameter or a body: ``_validation`` below gives it this shape, not
FastAPI's default ``{"detail": [...]}`` (a route that leaves it out is documented with that)."""


def with_body(responses: Responses) -> Responses:
    """``responses`` for a route that reads a JSON body, plus what any such route answers: 422
    for a body that breaks its schema or is not JSON, 400 for one that is not even text (not
    UTF-8: FastAPI cannot read it), said alongside the route's own 400 if it has one."""
    unreadable = "a body that cannot be read as text (not UTF-8)"
    out: Responses = {**INVALID_INPUT, **responses}
    own = out.get(400)
    if own is None:
        out[400] = documented(
            f"{unreadable[0].upper()}{unreadable[1:]}",
            code="http_error",
            message="There was an error parsing the body",
        )
    else:
        out[400] = {**own, "description": f"{own['description']}; or {unreadable}"}
    return out


def invalid_transition(description: str, *, action: str, status: Status) -> Responses:
    """The 409 of a ticket action, with an example: ``action`` refused in ``status``."""
    allowed = [a.value for a in allowed_actions(status)]
    return {
        409: documented(
            description,
            code="invalid_transition",
            message=f"cannot {action} a ticket that is {status.value}; "
            f"allowed now: {', '.join(allowed) or 'none'}",
            details={"status": status.value, "action": action, "allowed": allowed},
            model=InvalidTransitionResponse,
        )
    }


def as_json(responses: Responses) -> Responses:
    """The same errors for a route whose own answer is not JSON (the SSE stream): FastAPI
    would document a ``model`` response under the route's media type."""
    documented_as_json: Responses = {}
    for status, r in responses.items():
        media = {**r.get("content", {}).get("application/json", {})}
        media["schema"] = {"$ref": f"#/components/schemas/{r['model'].__name__}"}
        documented_as_json[status] = {
            "description": r["description"],
            "content": {"application/json": media},
        }
    return documented_as_json


def allowed_methods(request: Request) -> str:
    """Every method the path answers to. Starlette's 405 names only those of the first route
    whose path matched (``Allow: POST`` for ``/silences``, which has GET too)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and route.methods and regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_r: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        first = details[0] if details else {"where": "", "problem": "invalid request"}
        return error(422, "validation_error", f"{first['where']}: {first['problem']}", details)

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_r: Request, exc: Unauthenticated) -> JSONResponse:
        response = error(401, "unauthorized", str(exc))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(Forbidden)
    async def _forbidden(_r: Request, exc: Forbidden) -> JSONResponse:
        return error(403, "forbidden", str(exc), exc.details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = error(exc.status_code, "http_error", str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: a 405 lists what the resource does support
            response.headers["Allow"] = allowed_methods(request)
        return response

    @app.exception_handler(TicketNotFound)
    async def _not_found(_r: Request, exc: TicketNotFound) -> JSONResponse:
        return error(404, "ticket_not_found", str(exc))

    @app.exception_handler(InvalidTransition)
    async def _transition(_r: Request, exc: InvalidTransition) -> JSONResponse:
        return error(
            409,
            "invalid_transition",
            str(exc),
            {"status": exc.status, "action": exc.action, "allowed": exc.allowed},
        )

    @app.exception_handler(Conflict)
    async def _conflict(_r: Request, exc: Conflict) -> JSONResponse:
        return error(409, "conflict", str(exc))

    @app.exception_handler(InvalidRequest)
    async def _invalid(_r: Request, exc: InvalidRequest) -> JSONResponse:
        return error(400, "bad_request", str(exc))

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # A value the database refused (SQLSTATE class 22) that validation let through: the
        # request's fault, so a 4xx, never a 500. Validation should have caught it: say so.
        log.warning(
            "database refused a value in %s %s: %s", request.method, request.url.path, exc.orig
        )
        return error(400, "bad_request", "a value in the request cannot be stored by the database")
