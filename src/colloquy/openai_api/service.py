"""Chat completions answered by a provider directly: resolve the model (or agent), then generate."""

import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.agents import service as agents
from colloquy.agents.errors import AgentNotFound
from colloquy.agents.models import Agent
from colloquy.core.pagination import PageParams
from colloquy.core.settings import Settings
from colloquy.llm import service as llm
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
    collect,
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
    session: AsyncSession, *, user: User, settings: Settings
) -> list[ModelObject]:
    """Every model the user may use, in one list as OpenAI gives it."""
    models: list[ModelObject] = []
    while True:
        page = PageParams(limit=LIST_PAGE, offset=len(models))
        rows, total = await llm.list_models(session, user=user, settings=settings, page=page)
        models.extend(model_object(row) for row in rows)
        if not rows or len(models) >= total:
            return models


async def get_model(
    session: AsyncSession, *, user: User, ref: str, settings: Settings
) -> ModelObject:
    return model_object(await llm.get_model(session, user=user, ref=ref, settings=settings))


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


async def complete(
    provider: Provider, request: GenerationRequest, *, model_name: str
) -> ChatCompletion:
    """The whole reply, as one chat.completion object."""
    try:
        result = await collect(provider, request)
    except ProviderError as exc:
        raise ProviderFailed from exc
    return ChatCompletion(
        id=completion_id(),
        created=int(time.time()),
        model=model_name,
        choices=[
            Choice(
                message=ResponseMessage(content=result.text),
                finish_reason=_finish_reason(result.finish_reason),
            )
        ],
        usage=_usage(result.usage),
    )


async def stream_completion(
    provider: Provider, request: GenerationRequest, *, model_name: str, include_usage: bool
) -> AsyncIterator[bytes]:
    """The reply as server-sent chat.completion.chunk events. The provider is asked for its first
    chunk before this returns, so that a provider that fails at once is an error response."""
    chunks = provider.stream(request)
    try:
        first = await anext(chunks, None)
    except ProviderError as exc:
        await _close(chunks)
        raise ProviderFailed from exc
    return _events(first, chunks, model_name=model_name, include_usage=include_usage)


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
    first: Chunk | None, chunks: AsyncIterator[Chunk], *, model_name: str, include_usage: bool
) -> AsyncIterator[bytes]:
    chunk_id, created = completion_id(), int(time.time())

    def chunk(choices: list[ChunkChoice], usage: CompletionUsage | None = None) -> bytes:
        body = ChatCompletionChunk(
            id=chunk_id, created=created, model=model_name, choices=choices, usage=usage
        )
        return _event(body.model_dump_json(exclude={"usage"} if usage is None else None))

    usage: Usage | None = None
    finish: str | None = None
    try:
        yield chunk([ChunkChoice(delta=Delta(role="assistant", content=""))])
        async for item in _chained(first, chunks):
            match item:
                case TextDelta(text=text):
                    yield chunk([ChunkChoice(delta=Delta(content=text))])
                case Usage():
                    usage = item
                case Finish(reason=reason):
                    finish = reason
    except ProviderError:
        failed = ProviderFailed()
        yield _event(json.dumps(error_body(failed.status, failed.detail, code=failed.code)))
        return
    finally:
        await _close(chunks)
    yield chunk([ChunkChoice(delta=Delta(), finish_reason=_finish_reason(finish))])
    if include_usage:
        yield chunk([], _usage(usage))
    yield _event("[DONE]")
