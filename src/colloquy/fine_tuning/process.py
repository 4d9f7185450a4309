"""Training in a child process, so the event loop never waits on torch and a run can be killed.

The child is started with "spawn" (never a fork of a process running an event loop) and sends
its events, then its result, through a pipe the parent reads as the loop signals it readable.
"""

import multiprocessing
import signal
import threading
import traceback
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as StopEvent
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import structlog

from colloquy.fine_tuning.trainer import (
    TrainingCancelled,
    TrainingFailed,
    TrainingResult,
    TrainingSpec,
    train,
)

__all__ = ["TrainingCancelled", "TrainingFailed", "TrainingProcess"]

log = structlog.get_logger("colloquy.fine_tuning.process")

GRACE_SECONDS = 10.0
MAX_MESSAGE_LENGTH = 1000

OnEvent = Callable[[str, dict[str, Any]], Awaitable[None]]


class TrainingProcess:
    """Runs `train` once in a child process and forwards what it reports.

    `cancel()` asks the child to stop before its next step; a child still running
    `grace_period` seconds later is killed. `threads` caps torch's CPU threads in the child.
    """

    def __init__(self, *, grace_period: float = GRACE_SECONDS, threads: int | None = None) -> None:
        self.grace_period = grace_period
        self.threads = threads
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._process: BaseProcess | None = None
        self._cancelled: anyio.Event | None = None
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._loop_thread: int | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id, once it has started."""
        return None if self._process is None else self._process.pid

    @property
    def exitcode(self) -> int | None:
        """How the child ended (negative: the signal that ended it); None while it runs."""
        return None if self._process is None else self._process.exitcode

    def cancel(self) -> None:
        """Ask the run to stop; `run` then raises TrainingCancelled once the child is gone."""
        self._stop.set()
        if self._cancelled is None or self._token is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._cancelled.set()
        else:
            anyio.from_thread.run_sync(self._cancelled.set, token=self._token)

    async def run(self, spec: TrainingSpec, on_event: OnEvent) -> TrainingResult:
        """Train in a child process, awaiting `on_event(kind, data)` for each event it reports."""
        if self._process is not None:
            raise RuntimeError("a TrainingProcess runs once")
        if self._stop.is_set():
            raise TrainingCancelled
        self._cancelled = cancelled = anyio.Event()
        self._token = anyio.lowlevel.current_token()
        self._loop_thread = threading.get_ident()
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_child,
            args=(spec, sender, self._stop, self.threads),
            name="colloquy-training",
            daemon=True,
        )
        self._process = process
        try:
            # Shielded: a cancellation arriving now must find the child started, to stop it.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(process.start)
        finally:
            sender.close()
        try:
            message = await self._follow(process, receiver, on_event, cancelled)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._stop_child(process)
            raise
        finally:
            receiver.close()
            self._cancelled = None
        await _reap(process, self.grace_period)
        return self._outcome(process, message)

    async def _follow(
        self,
        process: BaseProcess,
        receiver: Connection,
        on_event: OnEvent,
        cancelled: anyio.Event,
    ) -> tuple[Any, ...] | None:
        """Forward events until the child's last word (None when it died without one)."""
        error: Exception | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self._kill_after_grace, process, cancelled)
            try:
                message = await _forward(receiver, on_event)
            except Exception as exc:  # raised below, outside the task group and not grouped
                error = exc
            group.cancel_scope.cancel()
        if error is not None:
            raise error
        return message

    async def _kill_after_grace(self, process: BaseProcess, cancelled: anyio.Event) -> None:
        await cancelled.wait()
        await anyio.sleep(self.grace_period)
        if process.is_alive():
            log.warning("training_killed", pid=process.pid, grace_period=self.grace_period)
            process.kill()

    async def _stop_child(self, process: BaseProcess) -> None:
        self._stop.set()
        await _reap(process, self.grace_period)

    def _outcome(self, process: BaseProcess, message: tuple[Any, ...] | None) -> TrainingResult:
        if self._stop.is_set():
            raise TrainingCancelled
        if message is None:
            raise TrainingFailed(
                f"The training process exited unexpectedly (code {process.exitcode})."
            )
        if message[0] == "result":
            result: TrainingResult = message[1]
            return result
        if message[0] == "cancelled":
            raise TrainingCancelled
        _, text, details = message
        if details is not None:
            log.error("training_failed", error=text, traceback=details)
        raise TrainingFailed(text)


async def _forward(receiver: Connection, on_event: OnEvent) -> tuple[Any, ...] | None:
    while (message := await _receive(receiver)) is not None and message[0] == "event":
        await on_event(message[1], message[2])
    return message


async def _receive(receiver: Connection) -> tuple[Any, ...] | None:
    """The child's next message, or None once its end of the pipe is closed."""
    while not receiver.poll():
        await anyio.wait_readable(receiver.fileno())
    try:
        message: tuple[Any, ...] = receiver.recv()
    except (EOFError, OSError):
        return None
    return message


async def _reap(process: BaseProcess, grace_period: float) -> None:
    """Wait for the child to exit, killing it if it has not after `grace_period` seconds."""
    with anyio.move_on_after(grace_period):
        await anyio.wait_readable(process.sentinel)
    if process.is_alive():
        log.warning("training_killed", pid=process.pid, grace_period=grace_period)
        process.kill()
        await anyio.wait_readable(process.sentinel)
    process.join()


def _child(spec: TrainingSpec, sender: Connection, stop: StopEvent, threads: int | None) -> None:
    """The child's body: train, then send the result or what went wrong."""
    # Ctrl-C reaches the whole process group; the parent decides when the child stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)

    def report(kind: str, data: dict[str, Any]) -> None:
        sender.send(("event", kind, data))

    try:
        result = train(spec, report=report, should_stop=stop.is_set)
    except TrainingCancelled:
        sender.send(("cancelled",))
    except TrainingFailed as exc:
        sender.send(("failed", str(exc), None))
    except Exception as exc:  # anything else ends the run; the parent logs the traceback
        message = (str(exc) or type(exc).__name__)[:MAX_MESSAGE_LENGTH]
        sender.send(("failed", message, traceback.format_exc()))
    else:
        sender.send(("result", result))
    finally:
        sender.close()
