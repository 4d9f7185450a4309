"""Chat completions answered by a provider directly: resolve the model (or agent), then generate."""

import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.agents import service as agents
from colloquy.agents.errors import AgentNotFound
from colloquy.agents.models import Agent
from colloquy.core.database import Database, transaction
from colloquy.core.pagination import PageParams
from colloquy.core.settings import Settings
from colloquy.llm import service as llm
from colloquy.llm import tokens
from colloquy.llm.errors import ModelNotFound, ProviderFailed
from colloquy.llm.models import Model
from colloquy.llm.providers import (
    Chunk,
    Finish,
    GenerationRequest,
    Provider,
    ProviderError,
    ProviderRegistry,
    TextDelta,
    Usage,
)
from colloquy.llm.providers.base import ChatMessage, Role
from colloquy.openai_api.errors import error_body
from colloquy.openai_api.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionCreate,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
    ModelObject,
    ResponseMessage,
)
from colloquy.usage import service as usage
from colloquy.usage.models import UsageSource
from colloquy.usage.service import Admission, Metering, Payer

AGENT_PREFIX = "agent:"
FINISH_REASONS = frozenset({"stop", "length", "content_filter", "tool_calls"})
LIST_PAGE = 100


@dataclass(frozen=True, slots=True)
class Target:
    """What a completion runs on: a model, and the agent whose model it is, if any."""

    model: Model
    agent: Agent | None = None


def model_object(model: Model) -> ModelObject:
    created = model.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return ModelObject(
        id=model.name,
        created=int(created.timestamp()),
        owned_by="user" if model.owner_id else "colloquy",
    )


async def list_models(
    session: AsyncSession, *, user: User, settings: Settings, payer: Payer
) -> list[ModelObject]:
    """Every model the user may use (and the key may call), in one list as OpenAI gives it."""
    models: list[ModelObject] = []
    seen = 0
    while True:
        page = PageParams(limit=LIST_PAGE, offset=seen)
        rows, total = await llm.list_models(session, user=user, settings=settings, page=page)
        seen += len(rows)
        models.extend(model_object(row) for row in rows if usage.model_allowed(payer, row))
        if not rows or seen >= total:
            return models


async def get_model(
    session: AsyncSession, *, user: User, ref: str, settings: Settings, payer: Payer
) -> ModelObject:
    model = await llm.get_model(session, user=user, ref=ref, settings=settings)
    usage.check_model(payer, model, ref=ref)
    return model_object(model)


async def _get_agent(session: AsyncSession, *, user: User, ref: str) -> Agent:
    """The caller's agent named `agent:<id>`; anything else is ModelNotFound, as OpenAI says."""
    try:
        agent_id = uuid.UUID(ref.removeprefix(AGENT_PREFIX))
        return await agents.get_agent(session, owner=user, agent_id=agent_id)
    except (ValueError, AgentNotFound):
        raise ModelNotFound(f"The model {ref!r} does not exist.") from None


async def resolve_target(
    session: AsyncSession, *, user: User, ref: str, settings: Settings
) -> Target:
    """The model `ref` names, or the model of the agent `agent:<id>` names."""
    if not ref.startswith(AGENT_PREFIX):
        try:
            return Target(await llm.get_model(session, user=user, ref=ref, settings=settings))
        except ModelNotFound:
            raise ModelNotFound(f"The model {ref!r} does not exist.") from None
    agent = await _get_agent(session, user=user, ref=ref)
    model = (
        await llm.get_model(session, user=user, ref=agent.model_id, settings=settings)
        if agent.model_id
        else await llm.default_model(session, settings=settings)
    )
    return Target(model, agent)


def generation_request(target: Target, data: ChatCompletionCreate) -> GenerationRequest:
    agent = target.agent
    messages = [
        ChatMessage(role=_role(message.role), content=message.text) for message in data.messages
    ]
    if agent and agent.instructions:
        messages.insert(0, ChatMessage(role="system", content=agent.instructions))
    ceiling = target.model.max_output_tokens
    wanted = data.output_limit or (agent.max_output_tokens if agent else None)
    temperature = data.temperature
    if temperature is None and agent:
        temperature = agent.temperature
    return GenerationRequest(
        model=target.model.provider_model,
        messages=messages,
        temperature=temperature,
        top_p=data.top_p,
        max_output_tokens=min(wanted or ceiling, ceiling),
        stop=data.stop_sequences,
        agent_name=agent.name if agent else None,
    )


def _role(role: str) -> Role:
    match role:
        case "user":
            return "user"
        case "assistant":
            return "assistant"
        case _:
            return "system"


def _finish_reason(reason: str | None) -> str:
    return reason if reason in FINISH_REASONS else "stop"


def _usage(usage: Usage | None) -> CompletionUsage:
    prompt = usage.input_tokens if usage else 0
    completion = usage.output_tokens if usage else 0
    return CompletionUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def get_provider(providers: ProviderRegistry, model: Model) -> Provider:
    """The provider serving `model`; one that is not configured is a provider failure (502)."""
    try:
        return providers.get(model.provider)
    except ProviderError as exc:
        raise ProviderFailed from exc


def completion_id() -> str:
    return f"chatcmpl-{secrets.token_urlsafe(18)}"


@dataclass(slots=True)
class Metered:
    """A /v1 call's admission and what it has used so far; settled once, however it ends."""

    database: Database
    metering: Metering
    admission: Admission
    input_tokens: int
    text: list[str] = field(default_factory=list)
    usage: Usage | None = None
    finish: str | None = None
    status: str = "complete"
    settled: bool = False
    # The provider's stream once asked: closed at the latest when the call settles.
    upstream: AsyncIterator[Chunk] | None = None

    def take(self, chunk: Chunk) -> None:
        match chunk:
            case TextDelta(text=text):
                self.text.append(text)
            case Usage():
                self.usage = chunk
            case Finish(reason=reason):
                self.finish = reason

    async def _used(self) -> Usage:
        if self.usage is not None:
            return self.usage
        if self.status == "error" and not self.text:
            return Usage(input_tokens=0, output_tokens=0, estimated=True)
        text = "".join(self.text)
        output = await tokens.count_tokens_async(text) if text else 0
        return Usage(input_tokens=self.input_tokens, output_tokens=output, estimated=True)

    async def settle(self) -> None:
        """Record the call's usage and end its hold on the limits; shielded from cancellation,
        so a client that leaves mid-reply is still charged, once."""
        if self.settled:
            return
        self.settled = True
        with anyio.CancelScope(shield=True):
            if self.upstream is not None:
                await _close(self.upstream)
            used = self.usage = await self._used()
            try:
                async with transaction(self.database) as session:
                    await usage.record(
                        session,
                        admission=self.admission,
                        usage=used,
                        source=UsageSource.API,
                        status=self.status,
                    )
            finally:
                await self.metering.release(
                    self.admission, used_tokens=used.input_tokens + used.output_tokens
                )

    async def release(self) -> None:
        """For a call that never reached the provider: nothing to record."""
        self.settled = True
        await self.metering.release(self.admission)


async def input_tokens(request: GenerationRequest) -> int:
    return await tokens.count_message_tokens_async(request.messages)


async def complete(
    provider: Provider, request: GenerationRequest, *, model_name: str, call: Metered
) -> ChatCompletion:
    """The whole reply, as one chat.completion object."""
    try:
        async with aclosing(provider.stream(request)) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                call.take(chunk)
    except ProviderError as exc:
        call.status = "error"
        raise ProviderFailed from exc
    except BaseException:
        call.status = "cancelled"
        raise
    finally:
        await call.settle()
    return ChatCompletion(
        id=completion_id(),
        created=int(time.time()),
        model=model_name,
        choices=[
            Choice(
                message=ResponseMessage(content="".join(call.text)),
                finish_reason=_finish_reason(call.finish),
            )
        ],
        usage=_usage(call.usage),
    )


async def stream_completion(
    provider: Provider,
    request: GenerationRequest,
    *,
    model_name: str,
    include_usage: bool,
    call: Metered,
) -> AsyncIterator[bytes]:
    """The reply as server-sent chat.completion.chunk events. The provider is asked for its first
    chunk before this returns, so that a provider that fails at once is an error response."""
    chunks = call.upstream = provider.stream(request)
    try:
        first = await anext(chunks, None)
    except BaseException as exc:
        await _close(chunks)
        call.status = "error" if isinstance(exc, ProviderError) else "cancelled"
        await call.settle()
        if isinstance(exc, ProviderError):
            raise ProviderFailed from exc
        raise
    return _events(first, chunks, model_name=model_name, include_usage=include_usage, call=call)


async def _close(chunks: AsyncIterator[Chunk]) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


async def _chained(first: Chunk | None, rest: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    if first is not None:
        yield first
        async for chunk in rest:
            yield chunk


def _event(payload: str) -> bytes:
    return f"data: {payload}\n\n".encode()


async def _events(
    first: Chunk | None,
    chunks: AsyncIterator[Chunk],
    *,
    model_name: str,
    include_usage: bool,
    call: Metered,
) -> AsyncIterator[bytes]:
    chunk_id, created = completion_id(), int(time.time())

    def chunk(choices: list[ChunkChoice], usage: CompletionUsage | None = None) -> bytes:
        body = ChatCompletionChunk(
            id=chunk_id, created=created, model=model_name, choices=choices, usage=usage
        )
        return _event(body.model_dump_json(exclude={"usage"} if usage is None else None))

    try:
        yield chunk([ChunkChoice(delta=Delta(role="assistant", content=""))])
        async for item in _chained(first, chunks):
            call.take(item)
            if isinstance(item, TextDelta):
                yield chunk([ChunkChoice(delta=Delta(content=item.text))])
    except ProviderError:
        call.status = "error"
        failed = ProviderFailed()
        yield _event(json.dumps(error_body(failed.status, failed.detail, code=failed.code)))
        return
    except BaseException:
        call.status = "cancelled"
        raise
    finally:
        await _close(chunks)
        await call.settle()
    yield chunk([ChunkChoice(delta=Delta(), finish_reason=_finish_reason(call.finish))])
    if include_usage:
        yield chunk([], _usage(call.usage))
    yield _event("[DONE]")
