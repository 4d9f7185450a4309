"""The error model: domain errors with a status and a stable code, rendered as problem details."""

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """Base of every error a service may raise on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal Server Error"
    default_detail: ClassVar[str] = "The server could not complete the request."
    # The request's writes are committed before the error is answered: an audit
    # record of a failed login, or the revocation that follows token reuse.
    keeps_changes: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(self.detail)


class BadRequest(AppError):
    status = 400
    code = "bad_request"
    title = "Bad Request"
    default_detail = "The request could not be understood."


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"
    default_detail = "Authentication is required."

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class PermissionDenied(AppError):
    status = 403
    code = "permission_denied"
    title = "Forbidden"
    default_detail = "You are not allowed to do this."


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not Found"
    default_detail = "The resource does not exist."


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"
    default_detail = "The request conflicts with the current state of the resource."


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"
    title = "Unprocessable Content"
    default_detail = "The request is not valid."

    def __init__(self, detail: str | None = None, *, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(detail, extra={"errors": [dict(error) for error in errors]})


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    title = "Too Many Requests"
    default_detail = "Too many requests; try again later."

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class QuotaExceeded(AppError):
    status = 429
    code = "quota_exceeded"
    title = "Too Many Requests"
    default_detail = "The quota for this period is used up."


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
    title = "Service Unavailable"
    default_detail = "The service is temporarily unavailable."


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    default_detail = "The database is unavailable; try again shortly."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


def problem(
    *,
    status: int,
    title: str,
    detail: str,
    code: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The RFC 9457 body every error response uses."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra or {})
    return body


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


def responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the errors a route may answer with."""
    documented: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        entry = documented.setdefault(
            error.status, {"model": ProblemDetails, "description": error.title, "codes": []}
        )
        entry["codes"].append(error.code)
    for entry in documented.values():
        entry["description"] = f"{entry['description']} ({', '.join(entry.pop('codes'))})"
    return documented
