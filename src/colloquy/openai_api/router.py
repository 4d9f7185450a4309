"""The OpenAI-compatible routes under `/v1`, and the handlers that answer their errors as OpenAI
does (every other path keeps problem details)."""

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from colloquy.accounts import service as accounts
from colloquy.accounts.dependencies import AuthToolsDep, BearerToken
from colloquy.accounts.errors import InsufficientScope, InvalidAccessToken
from colloquy.accounts.service import Authenticated
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
from colloquy.usage.service import Metering, Payer

PREFIX = "/v1"
INFERENCE_SCOPE = "inference"

router = APIRouter(prefix=PREFIX, tags=["openai"])


async def get_inference_caller(
    request: Request, tools: AuthToolsDep, client: ClientDep, token: BearerToken
) -> Authenticated:
    """The caller, checked in a short transaction of its own: a key needs the `inference` scope."""
    if not token:
        raise InvalidAccessToken("Authentication is required.")
    async with transaction(request.app.state.database, write=False) as session:
        caller = await accounts.identify(session, tools=tools, token=token, client=client)
    if caller.scopes is not None and INFERENCE_SCOPE not in caller.scopes:
        raise InsufficientScope("The API key lacks the inference scope.")
    request.state.user_id = str(caller.user.id)
    return caller


InferenceCaller = Annotated[Authenticated, Depends(get_inference_caller)]


def get_metering(request: Request) -> Metering:
    metering: Metering = request.app.state.metering
    return metering


MeteringDep = Annotated[Metering, Depends(get_metering)]


@router.get("/models")
async def list_models(
    caller: InferenceCaller, session: SessionDep, settings: SettingsDep
) -> ModelList:
    """The models you can use, in OpenAI's list format."""
    payer = Payer.of(caller.user, settings, caller=caller)
    models = await openai.list_models(session, user=caller.user, settings=settings, payer=payer)
    return ModelList(data=models)


@router.get("/models/{model}")
async def get_model(
    model: str, caller: InferenceCaller, session: SessionDep, settings: SettingsDep
) -> ModelObject:
    """A model you can use, by name or id."""
    payer = Payer.of(caller.user, settings, caller=caller)
    return await openai.get_model(
        session, user=caller.user, ref=model, settings=settings, payer=payer
    )


@router.post("/chat/completions", response_model=ChatCompletion)
async def create_chat_completion(
    payload: ChatCompletionCreate,
    caller: InferenceCaller,
    database: DatabaseDep,
    settings: SettingsDep,
    providers: ProvidersDep,
    metering: MeteringDep,
) -> Response:
    """A chat completion from a model, or from one of your agents as `agent:<id>`. Refused
    before the model is asked when a limit or the monthly quota is reached."""
    payer = Payer.of(caller.user, settings, caller=caller)
    admission = None
    try:
        # A monthly budget is reserved in the database, so only then is this a write.
        async with transaction(database, write=payer.has_budget) as session:
            target = await openai.resolve_target(
                session, user=caller.user, ref=payload.model, settings=settings
            )
            provider = openai.get_provider(providers, target.model)
            request = openai.generation_request(target, payload)
            counted = await openai.input_tokens(request)
            admission = await metering.admit(
                session,
                payer=payer,
                model=target.model,
                estimate=counted + (request.max_output_tokens or 0),
                ref=payload.model,
            )
    except BaseException:
        if admission is not None:
            await metering.release(admission)
        raise
    call = openai.Metered(
        database=database, metering=metering, admission=admission, input_tokens=counted
    )
    if not payload.stream:
        completion = await openai.complete(provider, request, model_name=payload.model, call=call)
        return JSONResponse(completion.model_dump(mode="json"), headers=admission.headers)
    events = await openai.stream_completion(
        provider,
        request,
        model_name=payload.model,
        include_usage=payload.include_usage,
        call=call,
    )
    return SettledStream(
        events,
        call=call,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **admission.headers},
    )


class SettledStream(StreamingResponse):
    """A streamed completion that is settled however the response ends, even when the client
    left before its body was ever read (the body's own cleanup then never runs)."""

    def __init__(self, content: AsyncIterator[bytes], *, call: openai.Metered, **kwargs: Any):
        super().__init__(content, **kwargs)
        self.call = call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                close = getattr(self.body_iterator, "aclose", None)
                if close is not None:
                    await close()
                if not self.call.settled:
                    self.call.status = "cancelled"
                    await self.call.settle()


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
