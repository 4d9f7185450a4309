"""Where a generation's events live while clients follow them, and how they reach every socket.

Each generation's events are numbered 1, 2, 3, ... and kept for a while after it ends, so a
client that lost its connection can re-attach and receive what it missed. In one process the
log and the fan-out are in memory; with Redis they are Streams and pub/sub, shared by replicas.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

log = structlog.get_logger("colloquy.chats.events")

TERMINAL = frozenset({"done", "error"})
READY_TIMEOUT = 3.0
ORPHAN_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL


class EventLog(Protocol):
    async def begin(self, chat_id: uuid.UUID, generation_id: uuid.UUID) -> None: ...

    async def append(self, chat_id: uuid.UUID, generation_id: uuid.UUID, event: Event) -> None: ...

    async def finish(self, chat_id: uuid.UUID, generation_id: uuid.UUID) -> None: ...

    async def current(self, chat_id: uuid.UUID) -> uuid.UUID | None: ...

    def follow(
        self, chat_id: uuid.UUID, generation_id: uuid.UUID, after: int
    ) -> AsyncIterator[Event]: ...

    async def aclose(self) -> None: ...


@dataclass
class _Generation:
    generation_id: uuid.UUID
    events: list[Event] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    expires_at: float | None = None


class MemoryEventLog:
    """Events of the latest generation of each chat, in this process."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._chats: dict[uuid.UUID, _Generation] = {}

    def _live(self, chat_id: uuid.UUID) -> _Generation | None:
        entry = self._chats.get(chat_id)
        if entry and entry.expires_at is not None and entry.expires_at < time.monotonic():
            del self._chats[chat_id]
            return None
        return entry

    def _sweep(self) -> None:
        now = time.monotonic()
        expired = [
            chat_id
            for chat_id, entry in self._chats.items()
            if entry.expires_at is not None and entry.expires_at < now
        ]
        for chat_id in expired:
            del self._chats[chat_id]

    async def begin(self, chat_id: uuid.UUID, generation_id: uuid.UUID) -> None:
        self._sweep()
        self._chats[chat_id] = _Generation(generation_id)

    async def append(self, chat_id: uuid.UUID, generation_id: uuid.UUID, event: Event) -> None:
        entry = self._chats.get(chat_id)
        if entry is None or entry.generation_id != generation_id:
            return
        async with entry.changed:
            entry.events.append(event)
            entry.changed.notify_all()

    async def finish(self, chat_id: uuid.UUID, generation_id: uuid.UUID) -> None:
        entry = self._chats.get(chat_id)
        if entry is not None and entry.generation_id == generation_id:
            async with entry.changed:
                entry.expires_at = time.monotonic() + self.ttl
                entry.changed.notify_all()

    async def current(self, chat_id: uuid.UUID) -> uuid.UUID | None:
        entry = self._live(chat_id)
        return entry.generation_id if entry else None

    async def follow(
        self, chat_id: uuid.UUID, generation_id: uuid.UUID, after: int
    ) -> AsyncIterator[Event]:
        entry = self._chats.get(chat_id)
        if entry is None or entry.generation_id != generation_id:
            return
        position = after
        while True:
            async with entry.changed:
                await entry.changed.wait_for(_news(entry, position))
                batch = entry.events[position:]
            if not batch:
                return  # finished, and the client has everything
            for event in batch:
                position = event.id
                yield event
                if event.terminal:
                    return

    async def aclose(self) -> None:
        self._chats.clear()


def _news(entry: _Generation, seen: int) -> Callable[[], bool]:
    """Whether events past `seen` arrived, or the generation ended."""
    return lambda: len(entry.events) > seen or entry.expires_at is not None


class RedisEventLog:
    """Events in a Redis Stream per generation; the stream entry id is the event number."""

    def __init__(self, redis: Any, ttl: int, *, prefix: str = "colloquy") -> None:
        self.redis = redis
        self.ttl = ttl
        self.prefix = prefix

    def _stream(self, generation_id: uuid.UUID) -> str:
        return f"{self.prefix}:generation:{generation_id}"

    def _pointer(self, chat_id: uuid.UUID) -> str:
        return f"{self.prefix}:chat:{chat_id}:generation"

    async def begin(self, chat_id: uuid.UUID, generation_id: uuid.UUID) -> None:
        # The pointer outlives a crashed replica only by the TTL.
        await self.redis.set(self._pointer(chat_id), str(generation_id), ex=self.ttl * 12)

    async def append(self, chat_id: uuid.UUID, generation_id: uuid.UUID, event: Event) -> None:
        # Until it finishes, a stream lives only as long as events keep coming: the stream of a
        # replica that died mid-reply expires, and whoever follows it stops waiting.
        pipe = self.redis.pipeline(transaction=False)
        stream = self._stream(generation_id)
        pipe.xadd(stream, {"type": event.type, "data": json.dumps(event.data)}, id=f"{event.id}-0")
        pipe.expire(stream, ORPHAN_SECONDS)
        await pipe.execute()

    async def finish(self, chat_id: uuid.UUID, generation_id: uuid.UUID) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.expire(self._stream(generation_id), self.ttl)
        pipe.expire(self._pointer(chat_id), self.ttl)
        await pipe.execute()

    async def current(self, chat_id: uuid.UUID) -> uuid.UUID | None:
        value = await self.redis.get(self._pointer(chat_id))
        if value is None:
            return None
        return uuid.UUID(value.decode() if isinstance(value, bytes) else value)

    async def follow(
        self, chat_id: uuid.UUID, generation_id: uuid.UUID, after: int
    ) -> AsyncIterator[Event]:
        stream = self._stream(generation_id)
        position = f"{after}-0"
        while True:
            reply = await self.redis.xread({stream: position}, count=100)
            if not reply:
                if await self._ended(stream):
                    return
                reply = await self.redis.xread({stream: position}, block=5000, count=100)
                if not reply:
                    continue
            for entry_id, fields in reply[0][1]:
                entry = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                position = entry
                event = Event(
                    id=int(entry.split("-", 1)[0]),
                    type=_text(fields[b"type"] if b"type" in fields else fields["type"]),
                    data=json.loads(fields[b"data"] if b"data" in fields else fields["data"]),
                )
                yield event
                if event.terminal:
                    return

    async def _ended(self, stream: str) -> bool:
        """No stream, or its last event closes it: nothing more will come."""
        last = await self.redis.xrevrange(stream, count=1)
        if not last:
            return not await self.redis.exists(stream)
        fields = last[0][1]
        kind = fields.get(b"type", fields.get("type"))
        return kind is not None and _text(kind) in TERMINAL

    async def aclose(self) -> None:
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


Listener = Callable[[dict[str, Any]], None]


class Hub(Protocol):
    """Frames for every socket of a user, and cancel requests for whichever replica runs a reply."""

    async def publish(self, user_id: uuid.UUID, frame: dict[str, Any]) -> None: ...

    def subscribe(self, user_id: uuid.UUID) -> Any: ...

    async def request_cancel(self, chat_id: uuid.UUID) -> None: ...

    def on_cancel(self, handler: Callable[[uuid.UUID], object]) -> None: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class MemoryHub:
    def __init__(self) -> None:
        self._queues: dict[uuid.UUID, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._cancel_handlers: list[Callable[[uuid.UUID], object]] = []

    async def publish(self, user_id: uuid.UUID, frame: dict[str, Any]) -> None:
        self._deliver(user_id, frame)

    def _deliver(self, user_id: uuid.UUID, frame: dict[str, Any]) -> None:
        for queue in tuple(self._queues.get(user_id, ())):
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                # A socket that stopped reading must not stop the reply or the other sockets.
                log.warning("hub_queue_full", user_id=str(user_id))

    @asynccontextmanager
    async def subscribe(self, user_id: uuid.UUID) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)
        self._queues[user_id].add(queue)
        try:
            yield queue
        finally:
            self._queues[user_id].discard(queue)
            if not self._queues[user_id]:
                del self._queues[user_id]

    async def request_cancel(self, chat_id: uuid.UUID) -> None:
        for handler in self._cancel_handlers:
            handler(chat_id)

    def on_cancel(self, handler: Callable[[uuid.UUID], object]) -> None:
        self._cancel_handlers.append(handler)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        self._queues.clear()


class RedisHub(MemoryHub):
    """Publishes through Redis; one listener per process delivers to its own sockets."""

    def __init__(self, redis: Any, *, prefix: str = "colloquy") -> None:
        super().__init__()
        self.redis = redis
        self.prefix = prefix
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def _user_channel(self, user_id: uuid.UUID) -> str:
        return f"{self.prefix}:user:{user_id}"

    @property
    def _cancel_channel(self) -> str:
        return f"{self.prefix}:cancel"

    async def publish(self, user_id: uuid.UUID, frame: dict[str, Any]) -> None:
        await self.redis.publish(self._user_channel(user_id), json.dumps(frame))

    async def request_cancel(self, chat_id: uuid.UUID) -> None:
        await self.redis.publish(self._cancel_channel, str(chat_id))

    async def start(self) -> None:
        """Start listening; a Redis that is down delays fan-out, never the process's start."""
        self._listener = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=READY_TIMEOUT)
        except TimeoutError:
            log.warning("hub_not_subscribed_yet")

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Redis went away: keep trying, so fan-out resumes when it is back. Start-up
                # need not wait for it: the app starts and reports Redis as not ready.
                log.warning("hub_listener_failed", error=repr(exc), retry_in=delay)
                self._ready.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _listen_once(self) -> None:
        pubsub = self.redis.pubsub()
        try:
            await pubsub.psubscribe(f"{self.prefix}:user:*")
            await pubsub.subscribe(self._cancel_channel)
            self._ready.set()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                if message is not None:
                    self._dispatch(message)
        finally:
            await pubsub.aclose()

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = _text(message["channel"])
        data = _text(message["data"])
        if channel == self._cancel_channel:
            for handler in self._cancel_handlers:
                handler(uuid.UUID(data))
            return
        user_id = uuid.UUID(channel.rsplit(":", 1)[1])
        self._deliver(user_id, json.loads(data))

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        await super().aclose()
