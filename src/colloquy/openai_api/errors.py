"""Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with its statuses."""

from collections.abc import Mapping, Sequence
from typing import Any

from colloquy.core.errors import AppError, NotFound, QuotaExceeded
from colloquy.datasets.errors import DatasetInvalid

ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}
# How many of a file's problems an error message lists.
LISTED_PROBLEMS = 5


class FileNotFound(NotFound):
    """A file id that is not one of the caller's files; `param` says which field named it."""

    code = "file_not_found"
    default_detail = "No such file."

    def __init__(self, file_id: str, *, param: str | None = None) -> None:
        errors = [{"loc": ["body", param], "msg": "No such file."}] if param else []
        super().__init__(f"No such file: {file_id!r}.", extra={"errors": errors})


def error_type(status: int) -> str:
    if status >= 500:
        return "api_error"
    return ERROR_TYPES.get(status, "invalid_request_error")


def openai_status(status: int) -> int:
    """OpenAI answers a request it cannot accept with 400, never 422."""
    return 400 if status == 422 else status


def error_body(
    status: int, message: str, *, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": error_type(status),
            "param": param,
            "code": code,
        }
    }


def param_name(loc: Sequence[Any]) -> str | None:
    """`["body", "messages", 0, "role"]` as OpenAI names it: `messages[0].role`."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name or None


def validation_message(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """The first problem's message and the parameter it concerns."""
    if not errors:
        return "The request is not valid.", None
    first = errors[0]
    param = param_name(first.get("loc", ()))
    message = str(first.get("msg") or "The request is not valid.")
    return (f"Invalid '{param}': {message}" if param else message), param


def app_error_body(exc: AppError) -> tuple[int, dict[str, Any]]:
    """The status and body an application error answers with on the OpenAI surface."""
    status = openai_status(exc.status)
    code: str | None = exc.code
    param = None
    message = exc.detail
    if status == 401:
        code = "invalid_api_key"
    elif status == 429:
        code = "insufficient_quota" if isinstance(exc, QuotaExceeded) else "rate_limit_exceeded"
    errors = exc.extra.get("errors")
    if isinstance(errors, list) and errors:
        _, param = validation_message(errors)
    if isinstance(exc, DatasetInvalid):
        message = dataset_problems(exc)
    return status, error_body(status, message, code=code, param=param)


def dataset_problems(exc: DatasetInvalid) -> str:
    """The file's first problems, each with its line: OpenAI's errors have no `errors` list."""
    errors = exc.extra.get("errors") or []
    count = exc.extra.get("error_count", len(errors))
    listed = "; ".join(
        f"line {error['line']}: {error['msg']}" if error.get("line") else str(error.get("msg"))
        for error in errors[:LISTED_PROBLEMS]
    )
    return f"{DatasetInvalid.default_detail} {count} problem(s): {listed}."
