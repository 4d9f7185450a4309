"""The WebSocket: one socket per client for all its chats. A client sends, cancels and resumes
replies on it; every socket of a user receives the events of all that user's replies, wherever
they run."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import anyio
import structlog
from anyio.abc import TaskGroup
from fastapi import APIRouter, Depends, WebSocket, status
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Message
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from colloquy.accounts import service as accounts
from colloquy.accounts.dependencies import READ_SCOPE, WRITE_SCOPE
from colloquy.accounts.errors import InsufficientScope, InvalidAccessToken
from colloquy.accounts.service import Authenticated
from colloquy.chats import frames, turns
from colloquy.chats import service as chats
from colloquy.chats.events import Hub
from colloquy.chats.frames import ClientFrame, Frame
from colloquy.chats.generation import GenerationManager, socket_frame
from colloquy.core.database import Database, transaction, utcnow
from colloquy.core.dependencies import API_PREFIX
from colloquy.core.errors import AppError
from colloquy.core.network import ClientInfo
from colloquy.core.settings import Settings
from colloquy.usage.service import Payer

log = structlog.get_logger("colloquy.chats.ws")
router = APIRouter(prefix=API_PREFIX, tags=["chats"])

AUTH_TIMEOUT = 10.0  # seconds a socket without an Authorization header has to send its token
MAX_FRAME_BYTES = 1024 * 1024
RECHECK_SECONDS = 60.0  # how stale the check of the login against the database may grow
RESUME_GRACE = 1.0  # seconds live events of a reply joined mid-way wait for a resume
MAX_REPLAYS = 16
CLOSE_UNAUTHORIZED = 4401
# An API key's socket is ended by its periodic recheck (revoked, expired), not by a clock.
NEVER = datetime.max.replace(tzinfo=UTC)
SOCKET_SCOPES = frozenset({READ_SCOPE, WRITE_SCOPE})


@dataclass(frozen=True, slots=True)
class SocketContext:
    settings: Settings
    tools: accounts.AuthTools
    database: Database
    generations: GenerationManager
    hub: Hub


def get_socket_context(websocket: WebSocket) -> SocketContext:
    state = websocket.app.state
    return SocketContext(
        settings=state.settings,
        tools=state.auth_tools,
        database=state.database,
        generations=state.generations,
        hub=state.hub,
    )


SocketContextDep = Annotated[SocketContext, Depends(get_socket_context)]


@dataclass(slots=True)
class Login:
    user_id: uuid.UUID
    token: str
    expires_at: datetime


class _Oversized(Exception):
    pass


class _Gone(Exception):
    pass


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket, context: SocketContextDep) -> None:
    """One socket for all the caller's chats: send, cancel and resume replies, and follow them."""
    if not origin_allowed(websocket.headers.get("origin"), context.settings.cors_origins):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    await websocket.accept()
    login = await _open(websocket, context)
    if login is not None:
        await ChatSocket(websocket, context, login).run()


def origin_allowed(origin: str | None, allowed: list[str]) -> bool:
    """Browsers always send an Origin; other clients need none."""
    if origin is None or "*" in allowed:
        return True
    return origin.rstrip("/").lower() in {item.rstrip("/").lower() for item in allowed}


async def _open(websocket: WebSocket, context: SocketContext) -> Login | None:
    """Authenticate by header or by a first `auth` frame; the socket is closed on failure."""
    try:
        token = _bearer(websocket.headers.get("authorization"))
        if token is None:
            token = await _first_frame_token(websocket)
        async with transaction(context.database, write=False) as session:
            login = await _check_token(session, context, token, _client(websocket))
    except (InvalidAccessToken, InsufficientScope) as exc:
        await _close(websocket, CLOSE_UNAUTHORIZED, exc.detail)
    except _Oversized:
        await _close(websocket, status.WS_1009_MESSAGE_TOO_BIG, "Frame too large.")
    except _Gone:
        pass
    else:
        return login
    return None


def _bearer(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidAccessToken("The Authorization header is not a bearer token.")
    return token.strip()


async def _first_frame_token(websocket: WebSocket) -> str:
    with anyio.move_on_after(AUTH_TIMEOUT):
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise _Gone
        try:
            frame = frames.CLIENT_FRAME.validate_json(_text(message))
        except ValidationError:
            frame = None
        if not isinstance(frame, frames.AuthFrame):
            raise InvalidAccessToken("The first frame must be an auth frame.")
        return frame.token
    raise InvalidAccessToken(f"No auth frame within {AUTH_TIMEOUT:g} s.")


async def _check_token(
    session: AsyncSession, context: SocketContext, token: str, client: ClientInfo
) -> Login:
    """An access token or an API key; a key has no expiry to watch, its rechecks end it."""
    authenticated = await accounts.identify(
        session, tools=context.tools, token=token, client=client
    )
    if authenticated.scopes is not None and not authenticated.scopes & SOCKET_SCOPES:
        raise InsufficientScope("The API key needs the read or write scope.")
    expires_at = (
        NEVER if authenticated.by_key else context.tools.signer.read_access(token).expires_at
    )
    return Login(user_id=authenticated.user.id, token=token, expires_at=expires_at)


def _client(websocket: WebSocket) -> ClientInfo:
    user_agent = websocket.headers.get("user-agent")
    return ClientInfo(
        ip=getattr(websocket.state, "client_ip", None)
        or (websocket.client and websocket.client.host),
        user_agent=user_agent[:512] if user_agent else None,
    )


def _text(message: Message) -> str:
    """The frame's text, refused over MAX_FRAME_BYTES whatever the server's own limit."""
    data: str | bytes = message.get("text") or message.get("bytes") or ""
    if isinstance(data, str):
        if len(data) > MAX_FRAME_BYTES or len(data.encode()) > MAX_FRAME_BYTES:
            raise _Oversized
        return data
    if len(data) > MAX_FRAME_BYTES:
        raise _Oversized
    return data.decode(errors="replace")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(WebSocketDisconnect, WebSocketDisconnected):  # the client left
        await websocket.close(code=code, reason=reason)


class ChatSocket:
    """An authenticated socket: one task reads client frames, one forwards the user's events."""

    def __init__(self, websocket: WebSocket, context: SocketContext, login: Login) -> None:
        self.websocket = websocket
        self.client = _client(websocket)
        self.context = context
        self.login = login
        self.feeds = frames.Feeds(grace=RESUME_GRACE)
        self._checked_at = time.monotonic()
        self._lock = anyio.Lock()
        self._tasks: TaskGroup | None = None
        self._closed = False
        self._replays = 0

    async def run(self) -> None:
        async with (
            self.context.hub.subscribe(self.login.user_id) as queue,
            anyio.create_task_group() as tasks,
        ):
            self._tasks = tasks
            if await self._send({"type": "ready"}):
                tasks.start_soon(self._forward, queue)
                tasks.start_soon(self._watch_login)
                await self._read()
            tasks.cancel_scope.cancel()

    @property
    def _running(self) -> TaskGroup:
        if self._tasks is None:
            raise RuntimeError("The socket is not running.")
        return self._tasks

    async def _send(self, frame: Frame) -> bool:
        async with self._lock:
            if self._closed:
                return False
            try:
                await self.websocket.send_json(frame)
            except (WebSocketDisconnect, WebSocketDisconnected):
                self._stop()
                return False
        return True

    async def _deliver(self, outgoing: list[Frame]) -> None:
        for frame in outgoing:
            await self._send(frame)

    async def _error(self, code: str, detail: str, source: ClientFrame | None) -> None:
        chat_id = getattr(source, "chat_id", None)
        frame: Frame = {"type": "error", "code": code, "detail": detail}
        frame["ref"] = source.ref if source is not None else None
        if chat_id is not None:
            frame["chat_id"] = str(chat_id)
        await self._send(frame)

    async def _close(self, code: int, reason: str) -> None:
        async with self._lock:
            if not self._closed:
                self._closed = True
                await _close(self.websocket, code, reason)
        self._stop()

    def _stop(self) -> None:
        self._closed = True
        if self._tasks is not None:
            self._tasks.cancel_scope.cancel()

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                raw = _text(message)
            except _Oversized:
                reason = f"Frames are limited to {MAX_FRAME_BYTES} bytes."
                await self._close(status.WS_1009_MESSAGE_TOO_BIG, reason)
                return
            await self._handle(raw)

    async def _handle(self, raw: str) -> None:
        try:
            frame = frames.CLIENT_FRAME.validate_json(raw)
        except ValidationError as exc:
            error = {"type": "error", "code": "invalid_frame", "detail": frames.describe(exc)}
            await self._send({**error, "ref": frames.ref_of(raw)})
            return
        await self._guard(frame, self._dispatch(frame))

    async def _guard(self, frame: ClientFrame, work: Awaitable[None]) -> None:
        """Errors become error frames carrying the client's ref; a login gone closes the socket."""
        try:
            await work
        except InvalidAccessToken as exc:
            await self._close(CLOSE_UNAUTHORIZED, exc.detail)
        except AppError as exc:
            await self._error(exc.code, exc.detail, frame)
        except Exception:
            log.exception("socket_frame_failed", frame_type=frame.type)
            await self._error("internal_error", "The server could not handle the frame.", frame)

    async def _dispatch(self, frame: ClientFrame) -> None:
        match frame:
            case frames.AuthFrame():
                await self._renew(frame)
            case frames.SendFrame():
                await self._start(frame)
            case frames.CancelFrame():
                await self._owned_chat(frame.chat_id, scope=WRITE_SCOPE)
                await self.context.generations.cancel(frame.chat_id)
            case frames.ResumeFrame():
                await self._resume(frame)
            case frames.PingFrame():
                pong: Frame = {"type": "pong"}
                if frame.ref is not None:
                    pong["ref"] = frame.ref
                await self._send(pong)

    async def _recheck(self, session: AsyncSession, *, scope: str | None = None) -> Authenticated:
        """The login (or key) is still live and its user active: checked against the database;
        a key must hold `scope` when one is named."""
        authenticated = await accounts.identify(
            session, tools=self.context.tools, token=self.login.token, client=self.client
        )
        self._checked_at = time.monotonic()
        scopes = authenticated.scopes
        if scope is not None and scopes is not None and scope not in scopes:
            raise InsufficientScope(f"The API key lacks the {scope} scope.")
        return authenticated

    async def _owned_chat(self, chat_id: uuid.UUID, *, scope: str) -> None:
        async with transaction(self.context.database, write=False) as session:
            caller = await self._recheck(session, scope=scope)
            await chats.get_chat(session, owner=caller.user, chat_id=chat_id)

    async def _renew(self, frame: frames.AuthFrame) -> None:
        async with transaction(self.context.database, write=False) as session:
            login = await _check_token(session, self.context, frame.token, self.client)
        if login.user_id != self.login.user_id:
            raise InvalidAccessToken("The token belongs to another user.")
        self.login = login
        self._checked_at = time.monotonic()

    async def _start(self, frame: frames.SendFrame) -> None:
        overrides = turns.Overrides(
            model_ref=frame.model_id,
            temperature=frame.temperature,
            max_output_tokens=frame.max_output_tokens,
        )

        async def prepare(session: AsyncSession) -> turns.TurnPlan:
            caller = await self._recheck(session, scope=WRITE_SCOPE)
            chat = await chats.get_chat(session, owner=caller.user, chat_id=frame.chat_id)
            settings = self.context.settings
            payer = Payer.of(caller.user, settings, caller=caller)
            return await turns.prepare_send(
                session,
                user=caller.user,
                chat=chat,
                content=frame.content,
                overrides=overrides,
                settings=settings,
                meter=turns.Meter(payer=payer, metering=self.context.generations.metering),
            )

        # The reply's frames reach this socket, like every other of the user's, through the hub.
        await self.context.generations.start(prepare)

    async def _resume(self, frame: frames.ResumeFrame) -> None:
        if self._replays >= MAX_REPLAYS:
            detail = f"At most {MAX_REPLAYS} resumes may run at once on a socket."
            await self._error("too_many_resumes", detail, frame)
            return
        # Claimed before any wait, so live events of this chat queue behind the replay.
        if not self.feeds.begin_replay(str(frame.chat_id)):
            return  # the replay already running delivers these events
        self._replays += 1
        self._running.start_soon(self._replay, frame)

    async def _replay(self, frame: frames.ResumeFrame) -> None:
        await self._guard(frame, self._follow(frame))
        self._replays -= 1
        await self._deliver(self.feeds.end_replay(str(frame.chat_id)))

    async def _follow(self, frame: frames.ResumeFrame) -> None:
        await self._owned_chat(frame.chat_id, scope=READ_SCOPE)
        generations = self.context.generations
        attached = await generations.attach(frame.chat_id, after=frame.after_event_id)
        if attached is None:
            await self._error("nothing_to_resume", "This chat has no reply to resume.", frame)
            return
        generation_id, events = attached
        self.feeds.replay_target(str(frame.chat_id), str(generation_id))
        try:
            async for event in events:
                replayed = socket_frame(frame.chat_id, generation_id, event)
                await self._deliver(self.feeds.replayed(replayed))
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    async def _forward(self, queue: asyncio.Queue[Frame]) -> None:
        while True:
            frame = await frames.next_frame(queue, self.feeds.next_release(time.monotonic()))
            now = time.monotonic()
            outgoing = self.feeds.due(now)
            if frame is not None:
                outgoing.extend(self.feeds.live(frame, now))
            await self._deliver(outgoing)

    async def _watch_login(self) -> None:
        """Close with 4401 when the token expires (unless renewed) or the login has ended."""
        while True:
            remaining = (self.login.expires_at - utcnow()).total_seconds()
            if remaining <= 0:
                await self._close(CLOSE_UNAUTHORIZED, "The access token expired.")
                return
            recheck_in = self._checked_at + RECHECK_SECONDS - time.monotonic()
            if recheck_in > 0:
                await anyio.sleep(min(remaining, recheck_in))
            elif not await self._still_valid():
                await self._close(CLOSE_UNAUTHORIZED, "The login has ended.")
                return

    async def _still_valid(self) -> bool:
        try:
            async with transaction(self.context.database, write=False) as session:
                await self._recheck(session)
        except InvalidAccessToken:
            return False
        except Exception:
            # A database outage must not drop every socket: check again later.
            log.warning("socket_login_check_failed", exc_info=True)
            self._checked_at = time.monotonic()
        return True
