"""Preparing a turn in one short transaction: check it fits, take the chat's lease, save the
user message and a placeholder reply, and work out exactly what the model will be sent."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.agents import service as agents
from colloquy.agents.models import Agent
from colloquy.chats import context, repository
from colloquy.chats.errors import GenerationInProgress, MessageNotFound, NotAUserMessage
from colloquy.chats.models import Chat, Message, MessageRole, MessageStatus
from colloquy.core.database import utcnow
from colloquy.core.settings import Settings
from colloquy.llm import service as llm
from colloquy.llm import tokens
from colloquy.llm.models import Model
from colloquy.llm.providers.base import GenerationRequest
from colloquy.usage.service import Admission, Metering, Payer

LEASE = timedelta(seconds=30)
TITLE_CHARS = 60


@dataclass(frozen=True, slots=True)
class Overrides:
    model_ref: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Meter:
    """Who pays for the turn, and the engine that admits it."""

    payer: Payer
    metering: Metering


@dataclass(frozen=True, slots=True)
class TurnPlan:
    chat_id: uuid.UUID
    owner_id: uuid.UUID
    user_message: Message
    assistant_message: Message
    provider: str
    request: GenerationRequest
    context: context.Context
    # The siblings of both messages, so the answers show them as GET does.
    sibling_ids: dict[uuid.UUID | None, list[uuid.UUID]]
    admission: Admission


@dataclass(frozen=True, slots=True)
class _Setup:
    model: Model
    agent: Agent | None
    max_output: int
    system_tokens: int

    @property
    def budget(self) -> int:
        return self.model.context_window - self.max_output


async def _setup(
    session: AsyncSession, *, user: User, chat: Chat, overrides: Overrides, settings: Settings
) -> _Setup:
    agent = (
        await agents.get_agent(session, owner=user, agent_id=chat.agent_id)
        if chat.agent_id
        else None
    )
    ref = overrides.model_ref or chat.model_id or (agent.model_id if agent else None)
    model = (
        await llm.get_model(session, user=user, ref=ref, settings=settings)
        if ref
        else await llm.default_model(session, settings=settings)
    )
    wanted = overrides.max_output_tokens or (agent.max_output_tokens if agent else None)
    max_output = min(wanted or model.max_output_tokens, model.max_output_tokens)
    instructions = agent.instructions if agent else ""
    instruction_tokens = await tokens.count_tokens_async(instructions) if instructions else 0
    return _Setup(
        model=model,
        agent=agent,
        max_output=max_output,
        system_tokens=context.system_cost(instructions, instruction_tokens),
    )


async def _claim(session: AsyncSession, chat: Chat) -> None:
    now = utcnow()
    if not await repository.claim_generation(session, chat_id=chat.id, now=now, until=now + LEASE):
        raise GenerationInProgress
    # A lease that lapsed means its generation died with its process: close its reply.
    await session.execute(
        update(Message)
        .where(Message.chat_id == chat.id, Message.status == MessageStatus.STREAMING)
        .values(status=MessageStatus.ERROR, error="The reply was interrupted."),
        execution_options={"synchronize_session": False},
    )


async def _new_message(
    session: AsyncSession,
    *,
    chat: Chat,
    parent: Message | None,
    role: MessageRole,
    content: str = "",
    content_tokens: int = 0,
    model_id: uuid.UUID | None = None,
) -> Message:
    message = Message(
        chat_id=chat.id,
        parent_id=parent.id if parent else None,
        depth=parent.depth + 1 if parent else 0,
        role=role,
        content=content,
        content_tokens=content_tokens,
        status=MessageStatus.STREAMING if role is MessageRole.ASSISTANT else MessageStatus.COMPLETE,
        model_id=model_id,
    )
    session.add(message)
    await session.flush()
    return message


async def _plan(
    session: AsyncSession,
    *,
    chat: Chat,
    setup: _Setup,
    user_message: Message,
    overrides: Overrides,
    meter: Meter,
) -> TurnPlan:
    reply = await _new_message(
        session,
        chat=chat,
        parent=user_message,
        role=MessageRole.ASSISTANT,
        model_id=setup.model.id,
    )
    chat.active_message_id = reply.id
    chat.last_activity_at = utcnow()
    if chat.title is None:
        chat.title = user_message.content.strip().splitlines()[0][:TITLE_CHARS] or None
    assembled = await context.assemble(
        session,
        last=user_message,
        instructions=setup.agent.instructions if setup.agent else None,
        system_tokens=setup.system_tokens,
        budget=setup.budget,
    )
    reply.context_included = assembled.included
    reply.context_dropped = assembled.dropped
    await session.flush()
    siblings = await repository.sibling_ids(
        session, chat_id=chat.id, messages=[user_message, reply]
    )
    temperature = overrides.temperature
    if temperature is None and setup.agent is not None:
        temperature = setup.agent.temperature
    request = GenerationRequest(
        model=setup.model.provider_model,
        messages=assembled.messages,
        temperature=temperature,
        max_output_tokens=setup.max_output,
        agent_name=setup.agent.name if setup.agent else None,
    )
    # Last, so a refusal rolls everything back and nothing is held for a turn that never ran.
    admission = await meter.metering.admit(
        session,
        payer=meter.payer,
        model=setup.model,
        estimate=assembled.input_tokens + setup.max_output,
        ref=overrides.model_ref,
    )
    return TurnPlan(
        chat_id=chat.id,
        owner_id=chat.owner_id,
        user_message=user_message,
        assistant_message=reply,
        provider=setup.model.provider,
        request=request,
        context=assembled,
        sibling_ids=siblings,
        admission=admission,
    )


async def prepare_send(
    session: AsyncSession,
    *,
    user: User,
    chat: Chat,
    content: str,
    overrides: Overrides,
    settings: Settings,
    meter: Meter,
) -> TurnPlan:
    setup = await _setup(session, user=user, chat=chat, overrides=overrides, settings=settings)
    content_tokens = await tokens.count_tokens_async(content)
    context.check_fits(
        budget=setup.budget, system_tokens=setup.system_tokens, content_tokens=content_tokens
    )
    await _claim(session, chat)
    parent = (
        await repository.get_message(session, chat_id=chat.id, message_id=chat.active_message_id)
        if chat.active_message_id
        else None
    )
    user_message = await _new_message(
        session,
        chat=chat,
        parent=parent,
        role=MessageRole.USER,
        content=content,
        content_tokens=content_tokens,
    )
    return await _plan(
        session,
        chat=chat,
        setup=setup,
        user_message=user_message,
        overrides=overrides,
        meter=meter,
    )


async def _chat_message(session: AsyncSession, chat: Chat, message_id: uuid.UUID) -> Message:
    message = await repository.get_message(session, chat_id=chat.id, message_id=message_id)
    if message is None:
        raise MessageNotFound
    return message


async def prepare_regenerate(
    session: AsyncSession,
    *,
    user: User,
    chat: Chat,
    message_id: uuid.UUID,
    overrides: Overrides,
    settings: Settings,
    meter: Meter,
) -> TurnPlan:
    """A new reply beside the given one (or, given a user message, a new reply to it)."""
    target = await _chat_message(session, chat, message_id)
    prompt = target
    if target.role is not MessageRole.USER:
        if target.parent_id is None:
            raise NotAUserMessage("This message answers nothing; there is nothing to regenerate.")
        prompt = await _chat_message(session, chat, target.parent_id)
    setup = await _setup(session, user=user, chat=chat, overrides=overrides, settings=settings)
    context.check_fits(
        budget=setup.budget, system_tokens=setup.system_tokens, content_tokens=prompt.content_tokens
    )
    await _claim(session, chat)
    return await _plan(
        session, chat=chat, setup=setup, user_message=prompt, overrides=overrides, meter=meter
    )


async def prepare_edit(
    session: AsyncSession,
    *,
    user: User,
    chat: Chat,
    message_id: uuid.UUID,
    content: str,
    settings: Settings,
    meter: Meter,
) -> TurnPlan:
    """A new user message beside the edited one, and a reply to it."""
    target = await _chat_message(session, chat, message_id)
    if target.role is not MessageRole.USER:
        raise NotAUserMessage
    overrides = Overrides()
    setup = await _setup(session, user=user, chat=chat, overrides=overrides, settings=settings)
    content_tokens = await tokens.count_tokens_async(content)
    context.check_fits(
        budget=setup.budget, system_tokens=setup.system_tokens, content_tokens=content_tokens
    )
    await _claim(session, chat)
    parent = await _chat_message(session, chat, target.parent_id) if target.parent_id else None
    edited = await _new_message(
        session,
        chat=chat,
        parent=parent,
        role=MessageRole.USER,
        content=content,
        content_tokens=content_tokens,
    )
    return await _plan(
        session, chat=chat, setup=setup, user_message=edited, overrides=overrides, meter=meter
    )
