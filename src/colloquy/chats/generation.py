"""Replies run server-side, apart from the request that asked for them.

A generation streams from the provider, numbers its events, appends them to the event log
(where any client can follow or re-attach) and publishes them to the user's sockets. It holds
no database session while tokens flow; it saves the reply in a short transaction at the end.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.chats import repository
from colloquy.chats.events import Event, EventLog, Hub
from colloquy.chats.models import Message, MessageStatus
from colloquy.chats.schemas import MessageRead, UsageRead, message_payload
from colloquy.chats.turns import LEASE, TurnPlan
from colloquy.core.database import Database, transaction, utcnow
from colloquy.core.errors import problem
from colloquy.llm import tokens
from colloquy.llm.providers import ProviderRegistry
from colloquy.llm.providers.base import Finish, ProviderError, TextDelta, Usage
from colloquy.usage import service as usage_service
from colloquy.usage.models import UsageSource
from colloquy.usage.service import Metering

log = structlog.get_logger("colloquy.chats.generation")
RENEW_EVERY = LEASE.total_seconds() / 3


@dataclass
class Outcome:
    status: MessageStatus = MessageStatus.COMPLETE
    text: list[str] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    error: str | None = None
    # The provider was asked: from here on the call may have cost tokens.
    asked: bool = False


@dataclass
class Generation:
    """A reply being generated; `finished` is set once it is saved and its last event sent."""

    id: uuid.UUID
    chat_id: uuid.UUID
    owner_id: uuid.UUID
    user_message: MessageRead
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    message: MessageRead | None = None
    usage: UsageRead | None = None
    task: asyncio.Task[None] | None = None
    cancel_requested: bool = False
    next_event: int = 1
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.message is not None and self.message.status is MessageStatus.ERROR


Prepare = Callable[[AsyncSession], Awaitable[TurnPlan]]


class GenerationManager:
    def __init__(
        self,
        *,
        database: Database,
        providers: ProviderRegistry,
        events: EventLog,
        hub: Hub,
        metering: Metering,
    ) -> None:
        self.database = database
        self.providers = providers
        self.events = events
        self.hub = hub
        self.metering = metering
        self._running: dict[uuid.UUID, Generation] = {}
        hub.on_cancel(self._cancel_local)

    async def start(self, prepare: Prepare) -> Generation:
        """Run `prepare` in its own committed transaction, then generate in the background."""
        plan: TurnPlan | None = None
        try:
            async with transaction(self.database) as session:
                plan = await prepare(session)
            generation = Generation(
                id=plan.assistant_message.id,
                chat_id=plan.chat_id,
                owner_id=plan.owner_id,
                user_message=message_payload(
                    plan.user_message,
                    sibling_ids=plan.sibling_ids.get(plan.user_message.parent_id),
                ),
                headers=plan.admission.headers,
            )
            self._running[plan.chat_id] = generation
            await self.events.begin(plan.chat_id, generation.id)
            await self._emit(
                generation, "user_message", generation.user_message.model_dump(mode="json")
            )
        except BaseException:
            if plan is not None:  # admitted, but the reply never started
                self._running.pop(plan.chat_id, None)
                await self.metering.release(plan.admission)
            raise
        generation.task = asyncio.create_task(self._run(generation, plan))
        return generation

    def follow(self, generation: Generation) -> AsyncIterator[Event]:
        return self.events.follow(generation.chat_id, generation.id, 0)

    async def resume(self, chat_id: uuid.UUID, *, after: int) -> AsyncIterator[Event] | None:
        """The running or most recent generation's events after `after`; None if there is none."""
        generation_id = await self.events.current(chat_id)
        if generation_id is None:
            return None
        return self.events.follow(chat_id, generation_id, after)

    async def attach(
        self, chat_id: uuid.UUID, *, after: int
    ) -> tuple[uuid.UUID, AsyncIterator[Event]] | None:
        """Like `resume`, with the generation's id, which a socket's frames carry."""
        generation_id = await self.events.current(chat_id)
        if generation_id is None:
            return None
        return generation_id, self.events.follow(chat_id, generation_id, after)

    async def cancel(self, chat_id: uuid.UUID) -> None:
        """Stop the chat's reply wherever it runs; nothing running is not an error."""
        if not self._cancel_local(chat_id):
            await self.hub.request_cancel(chat_id)

    def _cancel_local(self, chat_id: uuid.UUID) -> bool:
        generation = self._running.get(chat_id)
        if generation is None or generation.finished.is_set():
            return False
        if generation.task is None:
            generation.cancel_requested = True  # between registration and the task's start
        else:
            generation.task.cancel()
        return True

    async def aclose(self) -> None:
        """At shutdown, cancel what runs: each keeps its partial reply as cancelled."""
        tasks = [g.task for g in self._running.values() if g.task and not g.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _emit(self, generation: Generation, kind: str, data: dict[str, Any]) -> None:
        event = Event(id=generation.next_event, type=kind, data=data)
        generation.next_event += 1
        await self.events.append(generation.chat_id, generation.id, event)
        await self.hub.publish(
            generation.owner_id, socket_frame(generation.chat_id, generation.id, event)
        )

    async def _run(self, generation: Generation, plan: TurnPlan) -> None:
        outcome = Outcome()
        renewal = asyncio.create_task(self._renew_lease(plan.chat_id))
        try:
            if generation.cancel_requested:
                raise asyncio.CancelledError
            await self._stream(generation, plan, outcome)
        except asyncio.CancelledError:
            outcome.status = MessageStatus.CANCELLED
            outcome.finish_reason = "cancelled"
        except ProviderError as exc:
            outcome.status = MessageStatus.ERROR
            outcome.error = exc.detail
        except Exception:
            log.exception("generation_failed", chat_id=str(plan.chat_id))
            outcome.status = MessageStatus.ERROR
            outcome.error = "The reply failed inside the server."
        finally:
            renewal.cancel()
        try:
            await self._finish(generation, plan, outcome)
        finally:
            used = generation.usage.total_tokens if generation.usage else None
            await self.metering.release(plan.admission, used_tokens=used)
            self._running.pop(plan.chat_id, None)
            generation.finished.set()
            await self.events.finish(plan.chat_id, generation.id)

    async def _stream(self, generation: Generation, plan: TurnPlan, outcome: Outcome) -> None:
        provider = self.providers.get(plan.provider)
        outcome.asked = True
        async with aclosing(provider.stream(plan.request)) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                if isinstance(chunk, TextDelta):
                    if chunk.text:
                        outcome.text.append(chunk.text)
                        await self._emit(
                            generation,
                            "delta",
                            {"message_id": str(generation.id), "content": chunk.text},
                        )
                elif isinstance(chunk, Usage):
                    outcome.usage = chunk
                elif isinstance(chunk, Finish):
                    outcome.finish_reason = chunk.reason

    async def _renew_lease(self, chat_id: uuid.UUID) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                async with transaction(self.database) as session:
                    until = utcnow() + LEASE
                    await repository.set_lease(session, chat_id=chat_id, until=until)
            except Exception:
                log.warning("lease_renewal_failed", chat_id=str(chat_id))

    async def _finish(self, generation: Generation, plan: TurnPlan, outcome: Outcome) -> None:
        text = "".join(outcome.text)
        content_tokens = await tokens.count_tokens_async(text) if text else 0
        usage = outcome.usage or _estimate(plan, outcome, output_tokens=content_tokens)
        saved = await asyncio.shield(
            self._save(plan, outcome, text=text, usage=usage, content_tokens=content_tokens)
        )
        generation.message = saved
        generation.usage = UsageRead(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            total_tokens=usage.input_tokens + usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            estimated=usage.estimated,
        )
        message = saved.model_dump(mode="json")
        if outcome.status is MessageStatus.ERROR:
            body = problem(
                status=502,
                title="Bad Gateway",
                detail=outcome.error or "The model provider failed.",
                code="provider_error",
                extra={"message": message},
            )
            await self._emit(generation, "error", body)
            return
        done = {
            "assistant_message": message,
            "usage": generation.usage.model_dump(mode="json"),
            "context": {"included": plan.context.included, "dropped": plan.context.dropped},
        }
        await self._emit(generation, "done", done)

    async def _save(
        self, plan: TurnPlan, outcome: Outcome, *, text: str, usage: Usage, content_tokens: int
    ) -> MessageRead:
        siblings = plan.sibling_ids.get(plan.assistant_message.parent_id)
        async with transaction(self.database) as session:
            await usage_service.record(
                session,
                admission=plan.admission,
                usage=usage,
                source=UsageSource.CHAT,
                status=outcome.status.value,
                chat_id=plan.chat_id,
            )
            message = await session.get(Message, plan.assistant_message.id)
            if message is None:  # the chat or the message was deleted meanwhile
                return message_payload(plan.assistant_message, sibling_ids=siblings)
            message.content = text
            message.content_tokens = content_tokens
            message.status = outcome.status
            message.input_tokens = usage.input_tokens
            message.output_tokens = usage.output_tokens
            message.cached_tokens = usage.cached_tokens
            message.reasoning_tokens = usage.reasoning_tokens
            message.tokens_estimated = usage.estimated
            message.finish_reason = outcome.finish_reason
            message.error = outcome.error
            await repository.set_lease(session, chat_id=plan.chat_id, until=None)
            await session.flush()
            return message_payload(message, sibling_ids=siblings)


def _estimate(plan: TurnPlan, outcome: Outcome, *, output_tokens: int) -> Usage:
    """Counted here when the provider reported nothing (a cancel or a failure mid-reply): the
    prompt once the provider was asked, and the text it produced. A call that failed before
    producing anything is charged nothing."""
    failed_empty = outcome.status is MessageStatus.ERROR and not outcome.text
    charged = outcome.asked and not failed_empty
    return Usage(
        input_tokens=plan.context.input_tokens if charged else 0,
        output_tokens=output_tokens if charged else 0,
        estimated=True,
    )


def socket_frame(chat_id: uuid.UUID, generation_id: uuid.UUID, event: Event) -> dict[str, Any]:
    """The WebSocket frame for a generation event; `event_id` equals the SSE `id`."""
    base: dict[str, Any] = {
        "chat_id": str(chat_id),
        "generation_id": str(generation_id),
        "event_id": event.id,
    }
    data = event.data
    if event.type == "user_message":
        return {"type": "message", **base, "message": data}
    if event.type == "delta":
        return {
            "type": "delta",
            **base,
            "message_id": data["message_id"],
            "content": data["content"],
        }
    if event.type == "done":
        return {
            "type": "done",
            **base,
            "message": data["assistant_message"],
            "usage": data["usage"],
            "context": data["context"],
        }
    return {
        "type": "error",
        **base,
        "code": data["code"],
        "detail": data["detail"],
        "message": data.get("message"),
        "ref": None,
    }
