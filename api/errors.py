"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, "http_error", str(exc.detail))

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
