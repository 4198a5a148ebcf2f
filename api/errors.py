"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.access import Forbidden, Unauthenticated
from tickets.errors import Conflict, InvalidRequest, InvalidTransition, TicketNotFound


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad request"},
    404: {"model": ErrorResponse, "description": "Not found"},
    409: {"model": ErrorResponse, "description": "Conflict with the ticket's state"},
    422: {"model": ErrorResponse, "description": "Request failed validation"},
}
ACCESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorResponse, "description": "The key's role or site does not allow this"},
}
V1_RESPONSES = {**ACCESS_RESPONSES, 422: ERROR_RESPONSES[422]}
"""What any ``/api/v1`` route may answer: the 422 too, since ``_validation`` below gives every
route this shape, not FastAPI's default ``{"detail": [...]}``."""


def as_json(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The same errors for a route whose own answer is not JSON (the SSE stream): FastAPI
    would document a ``model`` response under the route's media type."""
    ref = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}
    return {
        status: {"description": r["description"], "content": {"application/json": {"schema": ref}}}
        for status, r in responses.items()
    }


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
