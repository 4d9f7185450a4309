"""Exception handlers: every error leaves as problem details, never as a stack trace."""

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from colloquy.core.errors import PROBLEM_JSON, AppError, DatabaseUnavailable, problem

log = structlog.get_logger("colloquy.errors")

HTTP_CODES = {
    400: ("bad_request", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("permission_denied", "Forbidden"),
    404: ("not_found", "Not Found"),
    405: ("method_not_allowed", "Method Not Allowed"),
    406: ("not_acceptable", "Not Acceptable"),
    413: ("payload_too_large", "Content Too Large"),
    415: ("unsupported_media_type", "Unsupported Media Type"),
    422: ("validation_error", "Unprocessable Content"),
    429: ("rate_limited", "Too Many Requests"),
    503: ("service_unavailable", "Service Unavailable"),
}


def problem_response(
    status: int,
    *,
    title: str,
    detail: str,
    code: str,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem(status=status, title=title, detail=detail, code=code, extra=extra)
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def is_database_unavailable(exc: BaseException) -> bool:
    """Errors that mean the database cannot be reached or is busy, not that a query is wrong."""
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, ConnectionError | TimeoutError)


def _is_bad_value(exc: Exception) -> bool:
    """A data exception (SQLSTATE class 22): the value, not the database, is at fault."""
    if isinstance(exc, sa_exc.DataError):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("22")


async def app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AppError):
        raise exc
    return problem_response(
        exc.status,
        title=exc.title,
        detail=exc.detail,
        code=exc.code,
        extra=exc.extra,
        headers=exc.headers,
    )


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    return problem_response(
        422,
        title="Unprocessable Content",
        detail="The request is not valid.",
        code="validation_error",
        extra={"errors": errors},
    )


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):
        raise exc
    code, title = HTTP_CODES.get(exc.status_code, ("http_error", "Error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(
        exc.status_code, title=title, detail=detail, code=code, headers=exc.headers
    )


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if _is_bad_value(exc):
        # The database refused a value the request carried (e.g. a NUL in a search string).
        return problem_response(
            400,
            title="Bad Request",
            detail="The request carries a value the database cannot store or compare.",
            code="invalid_value",
        )
    if not is_database_unavailable(exc):
        raise exc
    log.warning("database_unavailable", error=type(exc).__name__)
    return await app_error_handler(request, DatabaseUnavailable())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    app.add_exception_handler(sa_exc.DBAPIError, database_error_handler)
    app.add_exception_handler(sa_exc.TimeoutError, database_error_handler)
    app.add_exception_handler(ConnectionError, database_error_handler)
