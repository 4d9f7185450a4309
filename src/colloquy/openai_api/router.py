"""The OpenAI-compatible routes under `/v1`, and the handlers that answer their errors as OpenAI
does (every other path keeps problem details)."""

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from colloquy.accounts import service as accounts
from colloquy.accounts.dependencies import AuthToolsDep, BearerToken
from colloquy.accounts.errors import InsufficientScope, InvalidAccessToken
from colloquy.accounts.models import User
from colloquy.core.database import transaction
from colloquy.core.dependencies import ClientDep, DatabaseDep, SessionDep, SettingsDep
from colloquy.core.errors import AppError
from colloquy.core.handlers import HTTP_CODES
from colloquy.llm.dependencies import ProvidersDep
from colloquy.openai_api import service as openai
from colloquy.openai_api.errors import (
    app_error_body,
    error_body,
    openai_status,
    validation_message,
)
from colloquy.openai_api.schemas import ChatCompletion, ChatCompletionCreate, ModelList, ModelObject

PREFIX = "/v1"
INFERENCE_SCOPE = "inference"

router = APIRouter(prefix=PREFIX, tags=["openai"])


async def get_inference_user(
    request: Request, tools: AuthToolsDep, client: ClientDep, token: BearerToken
) -> User:
    """The caller, checked in a short transaction of its own: a key needs the `inference` scope."""
    if not token:
        raise InvalidAccessToken("Authentication is required.")
    async with transaction(request.app.state.database, write=False) as session:
        caller = await accounts.identify(session, tools=tools, token=token, client=client)
    if caller.scopes is not None and INFERENCE_SCOPE not in caller.scopes:
        raise InsufficientScope("The API key lacks the inference scope.")
    request.state.user_id = str(caller.user.id)
    return caller.user


InferenceUser = Annotated[User, Depends(get_inference_user)]


@router.get("/models")
async def list_models(user: InferenceUser, session: SessionDep, settings: SettingsDep) -> ModelList:
    """The models you can use, in OpenAI's list format."""
    return ModelList(data=await openai.list_models(session, user=user, settings=settings))


@router.get("/models/{model}")
async def get_model(
    model: str, user: InferenceUser, session: SessionDep, settings: SettingsDep
) -> ModelObject:
    """A model you can use, by name or id."""
    return await openai.get_model(session, user=user, ref=model, settings=settings)


@router.post("/chat/completions", response_model=ChatCompletion)
async def create_chat_completion(
    payload: ChatCompletionCreate,
    user: InferenceUser,
    database: DatabaseDep,
    settings: SettingsDep,
    providers: ProvidersDep,
) -> Response:
    """A chat completion from a model, or from one of your agents as `agent:<id>`."""
    async with transaction(database, write=False) as session:
        target = await openai.resolve_target(
            session, user=user, ref=payload.model, settings=settings
        )
    provider = openai.get_provider(providers, target.model)
    request = openai.generation_request(target, payload)
    if not payload.stream:
        completion = await openai.complete(provider, request, model_name=payload.model)
        return JSONResponse(completion.model_dump(mode="json"))
    events = await openai.stream_completion(
        provider, request, model_name=payload.model, include_usage=payload.include_usage
    )
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


Handler = Callable[[Request, Exception], Awaitable[Response]]
Fallback = Callable[[Request, Any], Response | Awaitable[Response]]


def _render(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


async def _app_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, AppError):
        raise exc
    status, body = app_error_body(exc)
    return _render(status, body, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    message, param = validation_message(exc.errors())
    return _render(400, error_body(400, message, code=None, param=param))


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        raise exc
    status = openai_status(exc.status_code)
    code, title = HTTP_CODES.get(exc.status_code, ("http_error", "Error"))
    message = exc.detail if isinstance(exc.detail, str) else title
    return _render(status, error_body(status, message, code=code), dict(exc.headers or {}))


def _is_openai_path(request: Request) -> bool:
    path: str = request.url.path
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def _scoped(openai_handler: Handler, fallback: Fallback) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if _is_openai_path(request):
            return await openai_handler(request, exc)
        response = fallback(request, exc)
        return await response if inspect.isawaitable(response) else response

    return handle


def install_error_handlers(app: FastAPI) -> None:
    """Answer errors under `/v1` in OpenAI's shape; call after the core's handlers are installed,
    which still answer every other path."""
    for error, handler in (
        (AppError, _app_error),
        (RequestValidationError, _validation_error),
        (HTTPException, _http_error),
    ):
        app.add_exception_handler(error, _scoped(handler, app.exception_handlers[error]))
