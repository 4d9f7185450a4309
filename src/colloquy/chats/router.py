"""HTTP routes for chats and messages; replies as JSON or as a server-sent event stream."""

import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.dependencies import BriefCaller, CurrentUser
from colloquy.accounts.errors import InvalidAccessToken
from colloquy.accounts.service import Authenticated
from colloquy.agents.errors import AgentNotFound
from colloquy.chats import service as chats
from colloquy.chats import turns
from colloquy.chats.dependencies import GenerationsDep, OwnedChat
from colloquy.chats.errors import (
    ChatNotFound,
    ContextTooLong,
    GenerationInProgress,
    MessageNotFound,
    NotAnAssistantMessage,
    NotAUserMessage,
)
from colloquy.chats.generation import Generation, GenerationManager
from colloquy.chats.schemas import (
    ChatCreate,
    ChatRead,
    ChatUpdate,
    Exchange,
    MessageEdit,
    MessagePage,
    MessageRating,
    MessageRead,
    MessageRegenerate,
    MessageSend,
)
from colloquy.chats.streaming import event_stream
from colloquy.core.dependencies import API_PREFIX, SessionDep, SettingsDep
from colloquy.core.errors import QuotaExceeded, RateLimited, ValidationFailed, responses
from colloquy.core.pagination import Page, PageDep
from colloquy.core.settings import Settings
from colloquy.llm.errors import ModelNotFound, ProviderFailed
from colloquy.projects.errors import ProjectNotFound
from colloquy.usage.errors import ModelNotAllowed
from colloquy.usage.service import Payer

router = APIRouter(prefix=f"{API_PREFIX}/chats", tags=["chats"])
ERRORS = (InvalidAccessToken, ChatNotFound)
REFERENCE_ERRORS = (AgentNotFound, ModelNotFound, ProjectNotFound)
TURN_ERRORS = responses(
    *ERRORS,
    MessageNotFound,
    GenerationInProgress,
    ContextTooLong,
    ProviderFailed,
    ModelNotFound,
    ModelNotAllowed,
    QuotaExceeded,
    RateLimited,
)
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "With `stream: true`: `text/event-stream` of `user_message`, `delta` "
        "(one per chunk), then `done` (or `error`); each event's `id` numbers it.",
        "content": {"text/event-stream": {}},
    },
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(InvalidAccessToken, *REFERENCE_ERRORS),
)
async def create_chat(
    payload: ChatCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> ChatRead:
    """Start a chat, optionally with an agent, a model (id or name) and a project."""
    chat = await chats.create_chat(session, owner=user, data=payload, settings=settings)
    return await chats.read_chat(session, chat=chat)


@router.get("", responses=responses(InvalidAccessToken))
async def list_chats(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    project_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    archived: bool = False,
    q: Annotated[str | None, Query(max_length=200, description="Search titles.")] = None,
) -> Page[ChatRead]:
    """Your chats with their last message: pinned first, then by latest activity."""
    items, total = await chats.list_chats(
        session,
        owner=user,
        project_id=project_id,
        agent_id=agent_id,
        archived=archived,
        q=q,
        page=page,
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{chat_id}", responses=responses(*ERRORS))
async def get_chat(chat: OwnedChat, session: SessionDep) -> ChatRead:
    """A chat with its summary."""
    return await chats.read_chat(session, chat=chat)


@router.patch("/{chat_id}", responses=responses(*ERRORS, *REFERENCE_ERRORS, MessageNotFound))
async def update_chat(
    payload: ChatUpdate,
    chat: OwnedChat,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> ChatRead:
    """Rename, pin, archive, move, change agent or model, or switch branch
    (`active_message_id`: the branch through that message, down to its newest reply)."""
    await chats.update_chat(session, owner=user, chat=chat, data=payload, settings=settings)
    return await chats.read_chat(session, chat=chat)


@router.delete("/{chat_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(*ERRORS))
async def delete_chat(chat: OwnedChat, session: SessionDep, generations: GenerationsDep) -> None:
    """Delete a chat and all its messages (a reply in progress is stopped)."""
    await generations.cancel(chat.id)
    await chats.delete_chat(session, chat=chat)


@router.get("/{chat_id}/messages", responses=responses(*ERRORS, MessageNotFound, ValidationFailed))
async def list_messages(
    chat: OwnedChat,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before: uuid.UUID | None = None,
    after: uuid.UUID | None = None,
) -> MessagePage:
    """The active branch by cursor, each page oldest first. Without a cursor: the newest
    messages; `next_cursor` goes into `before` for older ones; `after` fetches newer ones."""
    if before is not None and after is not None:
        raise ValidationFailed(
            "Use `before` or `after`, not both.",
            errors=[{"loc": ["query", "after"], "msg": "cannot be combined with before"}],
        )
    result = await chats.list_messages(session, chat=chat, limit=limit, before=before, after=after)
    return MessagePage(items=result.items, next_cursor=result.next_cursor)


@router.get("/{chat_id}/messages/{message_id}", responses=responses(*ERRORS, MessageNotFound))
async def get_message(message_id: uuid.UUID, chat: OwnedChat, session: SessionDep) -> MessageRead:
    """One message, with its siblings' ids."""
    return await chats.get_message(session, chat=chat, message_id=message_id)


@router.patch(
    "/{chat_id}/messages/{message_id}",
    responses=responses(*ERRORS, MessageNotFound, NotAnAssistantMessage),
)
async def rate_message(
    message_id: uuid.UUID, payload: MessageRating, chat: OwnedChat, session: SessionDep
) -> MessageRead:
    """Rate a reply: 1 good, -1 bad, null to clear."""
    return await chats.rate_message(
        session, chat=chat, message_id=message_id, rating=payload.rating
    )


@router.delete(
    "/{chat_id}/messages/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*ERRORS, MessageNotFound),
)
async def delete_message(message_id: uuid.UUID, chat: OwnedChat, session: SessionDep) -> None:
    """Delete a message and everything that follows from it."""
    await chats.delete_message(session, chat=chat, message_id=message_id)


# A turns.prepare_* function with the route's own arguments bound (functools.partial).
Prepare = Callable[..., Awaitable[turns.TurnPlan]]


async def _turn(
    generations: GenerationManager,
    *,
    caller: Authenticated,
    settings: Settings,
    chat_id: uuid.UUID,
    stream: bool,
    prepare: Prepare,
) -> Response:
    meter = turns.Meter(
        payer=Payer.of(caller.user, settings, caller=caller), metering=generations.metering
    )

    async def run(session: AsyncSession) -> turns.TurnPlan:
        chat = await chats.get_chat(session, owner=caller.user, chat_id=chat_id)
        return await prepare(session, user=caller.user, chat=chat, settings=settings, meter=meter)

    generation = await generations.start(run)
    response = event_stream(generations.follow(generation)) if stream else await _answer(generation)
    response.headers.update(generation.headers)
    return response


def _overrides(payload: MessageSend | MessageRegenerate) -> turns.Overrides:
    """What the request asks to change for this one reply."""
    return turns.Overrides(
        model_ref=payload.model_id,
        temperature=payload.temperature,
        max_output_tokens=payload.max_output_tokens,
    )


async def _answer(generation: Generation) -> Response:
    await generation.finished.wait()
    if generation.message is None or generation.failed:
        reply = generation.message
        raise ProviderFailed(
            reply.error if reply else None,
            extra={"assistant_message": reply.model_dump(mode="json") if reply else None},
        )
    body = Exchange(user_message=generation.user_message, assistant_message=generation.message)
    return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_201_CREATED)


@router.post(
    "/{chat_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=Exchange,
    responses={**TURN_ERRORS, **STREAM_DOC},
)
async def send_message(
    chat_id: uuid.UUID,
    payload: MessageSend,
    caller: BriefCaller,
    generations: GenerationsDep,
    settings: SettingsDep,
) -> Response:
    """Send a message and get the reply: 201 with both messages, or with `stream: true` the
    reply as server-sent events while it is generated."""
    prepare = partial(turns.prepare_send, content=payload.content, overrides=_overrides(payload))
    return await _turn(
        generations,
        caller=caller,
        settings=settings,
        chat_id=chat_id,
        stream=payload.stream,
        prepare=prepare,
    )


@router.post(
    "/{chat_id}/messages/{message_id}/regenerate",
    status_code=status.HTTP_201_CREATED,
    response_model=Exchange,
    responses={**TURN_ERRORS, **responses(NotAUserMessage), **STREAM_DOC},
)
async def regenerate_message(
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
    payload: MessageRegenerate,
    caller: BriefCaller,
    generations: GenerationsDep,
    settings: SettingsDep,
) -> Response:
    """Generate another reply beside this one; both stay, as siblings."""
    prepare = partial(
        turns.prepare_regenerate, message_id=message_id, overrides=_overrides(payload)
    )
    return await _turn(
        generations,
        caller=caller,
        settings=settings,
        chat_id=chat_id,
        stream=payload.stream,
        prepare=prepare,
    )


@router.post(
    "/{chat_id}/messages/{message_id}/edit",
    status_code=status.HTTP_201_CREATED,
    response_model=Exchange,
    responses={**TURN_ERRORS, **responses(NotAUserMessage), **STREAM_DOC},
)
async def edit_message(
    chat_id: uuid.UUID,
    message_id: uuid.UUID,
    payload: MessageEdit,
    caller: BriefCaller,
    generations: GenerationsDep,
    settings: SettingsDep,
) -> Response:
    """Send an edited version of a user message: a sibling of it, with a new reply."""

    prepare = partial(turns.prepare_edit, message_id=message_id, content=payload.content)
    return await _turn(
        generations,
        caller=caller,
        settings=settings,
        chat_id=chat_id,
        stream=payload.stream,
        prepare=prepare,
    )


@router.post(
    "/{chat_id}/cancel", status_code=status.HTTP_204_NO_CONTENT, responses=responses(*ERRORS)
)
async def cancel_reply(chat: OwnedChat, generations: GenerationsDep) -> None:
    """Stop the reply in progress; its text so far is kept, marked cancelled."""
    await generations.cancel(chat.id)


@router.get(
    "/{chat_id}/stream",
    responses={
        **responses(*ERRORS),
        200: {
            "description": "The running or latest reply's events",
            "content": {"text/event-stream": {}},
        },
        204: {"description": "No reply to attach to"},
    },
)
async def follow_reply(
    chat: OwnedChat,
    generations: GenerationsDep,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> Response:
    """Re-attach to the running (or most recent) reply: the events after `Last-Event-ID`, then
    the rest as they come. 204 when there is nothing to attach to."""
    events = await generations.resume(chat.id, after=last_event_id or 0)
    if events is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return event_stream(events)
