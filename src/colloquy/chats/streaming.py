"""Server-sent events for a generation: numbered events, with a comment line to keep idle
connections open. Closing the stream leaves the generation running."""

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi.sse import KEEPALIVE_COMMENT, EventSourceResponse, format_sse_event

from colloquy.chats.events import Event

KEEPALIVE_SECONDS = 15.0


async def sse_bytes(
    events: AsyncIterator[Event], *, keepalive: float = KEEPALIVE_SECONDS
) -> AsyncIterator[bytes]:
    iterator = aiter(events)
    pending: asyncio.Future[Event] = asyncio.ensure_future(anext(iterator))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=keepalive)
            if not done:
                yield KEEPALIVE_COMMENT
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            yield format_sse_event(
                data_str=json.dumps(event.data), event=event.type, id=str(event.id)
            )
            if event.terminal:
                return
            pending = asyncio.ensure_future(anext(iterator))
    finally:
        pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


def event_stream(events: AsyncIterator[Event]) -> EventSourceResponse:
    return EventSourceResponse(
        sse_bytes(events),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
