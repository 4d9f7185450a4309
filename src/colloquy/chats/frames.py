"""The WebSocket's frames: what a client may send, and which generation events a socket has
delivered, so that each goes out once and in order, whether it comes live from the hub or is
replayed from the event log for a resume."""

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio
from pydantic import Field, StringConstraints, TypeAdapter, ValidationError

from colloquy.chats.schemas import Content, MaxOutput, ModelRef, Temperature
from colloquy.core.schemas import Strict

Frame = dict[str, Any]
MAX_FEEDS = 1024
MAX_REF = 200

Ref = Annotated[str, StringConstraints(max_length=MAX_REF)] | int
Token = Annotated[str, StringConstraints(min_length=1, max_length=8192)]


class AuthFrame(Strict):
    type: Literal["auth"]
    token: Token
    ref: Ref | None = None


class SendFrame(Strict):
    type: Literal["send"]
    chat_id: uuid.UUID
    content: Content
    ref: Ref | None = None
    model_id: ModelRef | None = None
    temperature: Temperature | None = None
    max_output_tokens: MaxOutput | None = None


class CancelFrame(Strict):
    type: Literal["cancel"]
    chat_id: uuid.UUID
    ref: Ref | None = None


class ResumeFrame(Strict):
    type: Literal["resume"]
    chat_id: uuid.UUID
    after_event_id: int = Field(default=0, ge=0)
    ref: Ref | None = None


class PingFrame(Strict):
    type: Literal["ping"]
    ref: Ref | None = None


ClientFrame = AuthFrame | SendFrame | CancelFrame | ResumeFrame | PingFrame
CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(
    Annotated[ClientFrame, Field(discriminator="type")]
)


def describe(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def ref_of(raw: str) -> str | int | None:
    """The ref of a frame that failed validation, when there is a usable one."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    ref = data.get("ref") if isinstance(data, dict) else None
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        return None
    return ref if not isinstance(ref, str) or len(ref) <= MAX_REF else None


@dataclass(slots=True)
class _Feed:
    """One chat on one socket: its latest generation and the last event id sent of it."""

    generation_id: str | None = None
    last: int = 0
    held: list[Frame] | None = None
    replaying: bool = False
    replay_generation: str | None = None


def _admit(feed: _Feed, frame: Frame) -> bool:
    generation_id, event_id = frame["generation_id"], frame["event_id"]
    if generation_id != feed.generation_id:
        feed.generation_id, feed.last = generation_id, event_id
        return True
    if event_id <= feed.last:
        return False
    feed.last = event_id
    return True


class Feeds:
    """Live events of a reply this socket joined mid-way are held for `grace` seconds: a client
    that reconnects sends `resume` at once, and its replay then delivers them in order from
    where the client was. While a replay runs, live events of its chat wait behind it."""

    def __init__(self, *, grace: float, limit: int = MAX_FEEDS) -> None:
        self.grace = grace
        self.limit = limit
        self._feeds: dict[str, _Feed] = {}
        self._release_at: dict[str, float] = {}

    def _feed(self, chat_id: str) -> _Feed:
        feed = self._feeds.pop(chat_id, None)
        if feed is None:
            feed = _Feed()
            if len(self._feeds) >= self.limit:
                self._evict()
        self._feeds[chat_id] = feed  # most recently used last
        return feed

    def _evict(self) -> None:
        for chat_id, feed in self._feeds.items():
            if feed.held is None and not feed.replaying:
                del self._feeds[chat_id]
                return

    def live(self, frame: Frame, now: float) -> list[Frame]:
        """What to send now of a frame from the hub."""
        if "event_id" not in frame:
            return [frame]
        chat_id = frame["chat_id"]
        feed = self._feed(chat_id)
        if feed.held is not None:
            if not (feed.replaying and frame["generation_id"] == feed.replay_generation):
                feed.held.append(frame)
            return []
        if frame["generation_id"] != feed.generation_id and frame["event_id"] > 1:
            feed.held = [frame]
            self._release_at[chat_id] = now + self.grace
            return []
        return [frame] if _admit(feed, frame) else []

    def begin_replay(self, chat_id: str) -> bool:
        """Live events of the chat wait from now on; False when a replay of it runs already."""
        feed = self._feed(chat_id)
        if feed.replaying:
            return False
        feed.replaying = True
        feed.replay_generation = None
        if feed.held is None:
            feed.held = []
        self._release_at.pop(chat_id, None)
        return True

    def replay_target(self, chat_id: str, generation_id: str) -> None:
        """The replay covers this generation: its live events are no longer needed."""
        feed = self._feed(chat_id)
        feed.replay_generation = generation_id
        feed.held = [f for f in feed.held or [] if f["generation_id"] != generation_id]

    def replayed(self, frame: Frame) -> list[Frame]:
        """What to send now of a frame replayed from the event log."""
        return [frame] if _admit(self._feed(frame["chat_id"]), frame) else []

    def end_replay(self, chat_id: str) -> list[Frame]:
        """The replay is over: the live events that waited, less those it delivered."""
        feed = self._feed(chat_id)
        feed.replaying = False
        feed.replay_generation = None
        return self._release(chat_id, feed)

    def due(self, now: float) -> list[Frame]:
        """The held events whose grace is over."""
        frames: list[Frame] = []
        for chat_id, at in tuple(self._release_at.items()):
            if at <= now:
                frames.extend(self._release(chat_id, self._feed(chat_id)))
        return frames

    def next_release(self, now: float) -> float | None:
        """Seconds until held events are due, or None when nothing is held."""
        if not self._release_at:
            return None
        return max(0.0, min(self._release_at.values()) - now)

    def _release(self, chat_id: str, feed: _Feed) -> list[Frame]:
        held, feed.held = feed.held or [], None
        self._release_at.pop(chat_id, None)
        return [frame for frame in held if _admit(feed, frame)]


async def next_frame(queue: asyncio.Queue[Frame], wait: float | None) -> Frame | None:
    """The next frame from a hub subscription, or None after `wait` seconds."""
    with anyio.move_on_after(wait):
        return await queue.get()
    return None
