"""Training in a child process: events forwarded, cancel, a killed child, a failing child."""

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from colloquy.fine_tuning.process import TrainingCancelled, TrainingFailed, TrainingProcess
from colloquy.fine_tuning.trainer import TrainingSpec

Events = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def long_spec(spec: TrainingSpec) -> TrainingSpec:
    """A run far longer than any test waits for."""
    return dataclasses.replace(
        spec, hyperparameters=dataclasses.replace(spec.hyperparameters, n_epochs=100)
    )


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.training
async def test_trains_in_a_child_and_forwards_its_events(spec: TrainingSpec) -> None:
    process = TrainingProcess(threads=1)
    events: Events = []

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        events.append((kind, data))

    result = await process.run(spec, on_event)

    assert process.pid is not None
    assert process.pid != os.getpid()
    assert process.exitcode == 0
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "started"
    assert kinds.count("checkpoint") == kinds.count("epoch") == 3
    assert result.steps == events[0][1]["total_steps"] == 15
    assert result.output_dir == spec.output_dir
    assert (spec.output_dir / "model.safetensors").is_file()


@pytest.mark.training
async def test_cancel_stops_the_child_between_steps(long_spec: TrainingSpec) -> None:
    process = TrainingProcess(threads=1, grace_period=60)
    asked: list[float] = []

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "metrics" and not asked:
            asked.append(time.monotonic())
            process.cancel()

    with pytest.raises(TrainingCancelled):
        await process.run(long_spec, on_event)

    assert time.monotonic() - asked[0] < 10
    assert process.exitcode == 0  # it stopped by itself, well inside the grace period
    assert process.pid is not None
    assert gone(process.pid)
    assert not long_spec.output_dir.exists()


@pytest.mark.training
async def test_a_child_that_outlives_the_grace_period_is_killed(long_spec: TrainingSpec) -> None:
    process = TrainingProcess(threads=1, grace_period=0)

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "metrics":
            process.cancel()

    with pytest.raises(TrainingCancelled):
        await process.run(long_spec, on_event)

    assert process.exitcode == -signal.SIGKILL


@pytest.mark.training
async def test_cancel_before_the_run_starts_nothing(spec: TrainingSpec) -> None:
    process = TrainingProcess()
    process.cancel()

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        raise AssertionError(kind)

    with pytest.raises(TrainingCancelled):
        await process.run(spec, on_event)

    assert process.pid is None


@pytest.mark.training
async def test_a_killed_child_is_a_failure_with_its_exit_code(long_spec: TrainingSpec) -> None:
    process = TrainingProcess(threads=1)

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "started":
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)

    with pytest.raises(TrainingFailed) as failed:
        await process.run(long_spec, on_event)

    assert str(failed.value) == "The training process exited unexpectedly (code -9)."


@pytest.mark.training
async def test_an_error_in_the_child_comes_back_as_its_message(
    spec: TrainingSpec, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    process = TrainingProcess(threads=1)

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        raise AssertionError(kind)

    with pytest.raises(TrainingFailed) as failed:
        await process.run(dataclasses.replace(spec, base_model=broken), on_event)

    message = str(failed.value)
    assert message
    assert "Traceback" not in message
    assert process.exitcode == 0


@pytest.mark.training
async def test_a_training_failure_keeps_its_message(spec: TrainingSpec, tmp_path: Path) -> None:
    process = TrainingProcess(threads=1)

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        raise AssertionError(kind)

    with pytest.raises(TrainingFailed, match=r"^no checkpoint at missing$"):
        await process.run(dataclasses.replace(spec, base_model=tmp_path / "missing"), on_event)


@pytest.mark.training
async def test_cancelling_the_awaiting_task_stops_the_child(long_spec: TrainingSpec) -> None:
    process = TrainingProcess(threads=1, grace_period=60)
    started = anyio.Event()

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        started.set()

    async with anyio.create_task_group() as group:
        group.start_soon(process.run, long_spec, on_event)
        await started.wait()
        group.cancel_scope.cancel()

    assert process.pid is not None
    assert gone(process.pid)
    assert process.exitcode == 0


@pytest.mark.training
async def test_a_failing_event_handler_stops_the_child(long_spec: TrainingSpec) -> None:
    process = TrainingProcess(threads=1, grace_period=60)

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError, match="database"):
        await process.run(long_spec, on_event)

    assert process.pid is not None
    assert gone(process.pid)


def test_importing_the_training_modules_loads_no_torch() -> None:
    code = (
        "import sys, colloquy.fine_tuning.process, colloquy.fine_tuning.trainer; "
        "sys.exit('torch' in sys.modules or 'peft' in sys.modules)"
    )

    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
