"""A loopback HTTP server that speaks the OpenAI Chat Completions streaming wire format.

It runs its own event loop in a thread on 127.0.0.1 (a random port), so any test can use it,
and writes the bytes a real server writes: chunked `text/event-stream` with one
`data: {chat.completion.chunk}\\n\\n` event per delta, a usage chunk with empty choices when
`stream_options.include_usage` was asked for, then `data: [DONE]\\n\\n`. `behaviour` says how
to misbehave; `requests` records what it received.
"""

import asyncio
import contextlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

CREATED = 1_700_000_000
# How long a stream held open waits for the client to leave before giving up.
HOLD_LIMIT_SECONDS = 10.0


@dataclass
class Behaviour:
    """What the server does with the next requests; a test changes it before calling."""

    deltas: Sequence[str] = ("Hello", " there", "!")
    finish_reason: str | None = "stop"
    send_usage: bool = True
    prompt_tokens: int = 17
    cached_tokens: int = 5
    reasoning_tokens: int = 2
    # Answer `fail_status` to this many requests first (or to all of them: -1), then succeed.
    fail_times: int = 0
    fail_status: int = 500
    error_message: str = "The server had an error while processing your request."
    # Seconds to wait before the first byte of the response (bounded by the value itself).
    stall_seconds: float = 0.0
    # Cut the connection after sending this many deltas.
    drop_after: int | None = None
    # After the deltas, keep the stream open until the client goes away.
    hold_open: bool = False
    send_done: bool = True
    malformed: bool = False


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAIServer:
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: list[Received] = field(default_factory=list)
    # Set when a client closed a stream the server was still holding open.
    client_left: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    _failures: int = 0
    _ready: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _stopped: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake OpenAI server did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopped.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            received = await _read_request(reader)
            self.requests.append(received)
            await self._respond(received, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(
        self, received: Received, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        behaviour = self.behaviour
        if behaviour.stall_seconds:
            await asyncio.sleep(behaviour.stall_seconds)
        if received.path != "/v1/chat/completions":
            await _send_json(writer, 404, {"error": {"message": "Not found", "type": "invalid"}})
            return
        if behaviour.fail_times < 0 or self._failures < behaviour.fail_times:
            self._failures += 1
            error = {"error": {"message": behaviour.error_message, "type": "server_error"}}
            await _send_json(writer, behaviour.fail_status, error)
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"transfer-encoding: chunked\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"
        )
        await self._stream(received, behaviour, reader, writer)

    async def _stream(
        self,
        received: Received,
        behaviour: Behaviour,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        model = str(received.body.get("model", ""))
        include_usage = bool((received.body.get("stream_options") or {}).get("include_usage"))
        usage_field = {"usage": None} if include_usage else {}
        await _send_event(
            writer, _chunk(model, {"role": "assistant", "content": ""}, None, usage_field)
        )
        for index, delta in enumerate(behaviour.deltas):
            if behaviour.drop_after is not None and index >= behaviour.drop_after:
                return  # closing without the last chunk of the body: a lost connection
            await _send_event(writer, _chunk(model, {"content": delta}, None, usage_field))
        if behaviour.malformed:
            await _send_chunk(writer, b'data: {"id": "chatcmpl-fake", "choices": [\n\n')
        if behaviour.hold_open:
            await self._hold(reader)
            return
        if behaviour.finish_reason is not None:
            await _send_event(writer, _chunk(model, {}, behaviour.finish_reason, usage_field))
        if include_usage and behaviour.send_usage:
            await _send_event(writer, _usage_chunk(model, behaviour))
        if behaviour.send_done:
            await _send_chunk(writer, b"data: [DONE]\n\n")
        await _send_chunk(writer, b"")

    async def _hold(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(HOLD_LIMIT_SECONDS):
                while await reader.read(1024):
                    pass
                self.client_left.set()


async def _read_request(reader: asyncio.StreamReader) -> Received:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    request_line, *header_lines = head.split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    headers = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    raw = await reader.readexactly(length) if length else b""
    body = json.loads(raw) if raw else {}
    return Received(method=method, path=path, headers=headers, body=body)


def _chunk(
    model: str, delta: dict[str, Any], finish_reason: str | None, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        **extra,
    }


def _usage_chunk(model: str, behaviour: Behaviour) -> dict[str, Any]:
    completion = len(behaviour.deltas)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [],
        "usage": {
            "prompt_tokens": behaviour.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": behaviour.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": behaviour.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": behaviour.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    }


async def _send_event(writer: asyncio.StreamWriter, payload: dict[str, Any]) -> None:
    data = json.dumps(payload, separators=(",", ":"))
    await _send_chunk(writer, f"data: {data}\n\n".encode())


async def _send_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    """One piece of a chunked body; empty data ends the body."""
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    await writer.drain()


async def _send_json(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    reason = {404: "Not Found", 429: "Too Many Requests"}.get(status, "Error")
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nretry-after-ms: 1\r\nconnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
