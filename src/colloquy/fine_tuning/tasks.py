"""The fine-tuning task: what a runner (in-process, or a queue's worker) calls with a job id.

Idempotent: it claims the job first and does nothing unless the job was queued. Training runs
in a child process; the task writes what it reports in short transactions, stops it when the
job is cancelled, and settles the outcome.
"""

import shutil
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import structlog

from colloquy.core.database import Database, transaction
from colloquy.core.errors import AppError
from colloquy.core.settings import Settings
from colloquy.datasets import service as datasets
from colloquy.datasets.models import Dataset
from colloquy.datasets.storage import Storage, storage_from_settings
from colloquy.fine_tuning import runs
from colloquy.fine_tuning.process import TrainingFailed, TrainingProcess
from colloquy.fine_tuning.runs import Plan
from colloquy.fine_tuning.trainer import Hyperparameters, TrainingCancelled, TrainingSpec
from colloquy.llm.providers.local import checkpoint_allowed

log = structlog.get_logger("colloquy.fine_tuning")

# How often a running job says it is alive and looks for a cancel made elsewhere.
HEARTBEAT_SECONDS = 5.0


def output_root(settings: Settings) -> Path:
    """Where fine-tuned models are written: `<var_dir>/models` when that lies in a model
    directory (the default), else the first model directory."""
    preferred = settings.var_dir / "models"
    if checkpoint_allowed(preferred / "x", settings.model_dirs):
        return preferred
    return Path(settings.model_dirs[0])


def work_dir(settings: Settings, job_id: uuid.UUID) -> Path:
    """A job's data copies and checkpoints, kept until it ends so a new attempt can resume."""
    return settings.var_dir / "fine_tuning" / str(job_id)


def output_dir(settings: Settings, job_id: uuid.UUID) -> Path:
    return (output_root(settings) / str(job_id)).resolve()


async def _copy(storage: Storage, dataset: Dataset, target: Path) -> Path:
    chunks = await datasets.open_content(storage, dataset=dataset)
    async with await anyio.open_file(target, "wb") as file:
        async for chunk in chunks:
            await file.write(chunk)
    return target


async def _spec(plan: Plan, settings: Settings, storage: Storage) -> TrainingSpec:
    job = plan.job
    work = work_dir(settings, job.id)
    data = work / "data"
    await anyio.Path(data).mkdir(parents=True, exist_ok=True)
    output = output_dir(settings, job.id)
    await anyio.to_thread.run_sync(lambda: shutil.rmtree(output, ignore_errors=True))
    return TrainingSpec(
        base_model=plan.base_checkpoint,
        train_file=await _copy(storage, plan.training, data / "train.jsonl"),
        validation_file=(
            await _copy(storage, plan.validation, data / "validation.jsonl")
            if plan.validation is not None
            else None
        ),
        output_dir=output,
        work_dir=work,
        hyperparameters=Hyperparameters(**job.hyperparameters),
        resume=plan.resume,
    )


async def _remove(*paths: Path) -> None:
    def remove() -> None:
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)

    await anyio.to_thread.run_sync(remove)


async def _settle(
    database: Database,
    settings: Settings,
    job_id: uuid.UUID,
    outcome: BaseException | None,
    result: Any,
) -> None:
    """Write how the run ended and tidy its files."""
    work, output = work_dir(settings, job_id), output_dir(settings, job_id)
    if outcome is None:
        try:
            async with transaction(database) as session:
                model = await runs.succeed(
                    session,
                    job_id=job_id,
                    trained_tokens=result.trained_tokens,
                    train_loss=result.train_loss,
                    valid_loss=result.valid_loss,
                    checkpoint=output,
                    settings=settings,
                )
        except AppError as exc:
            await _settle(database, settings, job_id, exc, None)
            return
        if model is None:
            outcome = TrainingCancelled()
        else:
            await _remove(work)
            return
    await _remove(work, output)
    async with transaction(database) as session:
        if isinstance(outcome, TrainingCancelled):
            await runs.cancelled(session, job_id)
        elif isinstance(outcome, AppError):
            await runs.fail(session, job_id, code=outcome.code, message=outcome.detail)
        elif isinstance(outcome, TrainingFailed):
            await runs.fail(session, job_id, code="training_failed", message=str(outcome))
        else:
            await runs.fail(
                session, job_id, code="internal_error", message="Training stopped unexpectedly."
            )


async def _watch(
    database: Database, job_id: uuid.UUID, process: TrainingProcess, cancel: anyio.Event
) -> None:
    """Stop the training when asked in-process, or when the job's row says so."""
    while True:
        with anyio.move_on_after(HEARTBEAT_SECONDS):
            await cancel.wait()
        if not cancel.is_set():
            async with transaction(database) as session:
                if not await runs.beat(session, job_id):
                    continue
        process.cancel()
        return


async def _train(database: Database, settings: Settings, plan: Plan, cancel: anyio.Event) -> Any:
    job_id = plan.job.id
    spec = await _spec(plan, settings, storage_from_settings(settings))
    process = TrainingProcess()

    async def on_event(kind: str, data: dict[str, Any]) -> None:
        async with transaction(database) as session:
            stop = await runs.report(session, job_id, kind, data)
        if stop:
            cancel.set()

    error: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(_watch, database, job_id, process, cancel)
        try:
            result = await process.run(spec, on_event)
        except Exception as exc:
            # Raised past the task group it would arrive wrapped in an exception group.
            error = exc
        finally:
            group.cancel_scope.cancel()
    if error is not None:
        raise error
    return result


async def run_fine_tune(
    database: Database, settings: Settings, job_id: uuid.UUID, *, cancel: anyio.Event | None = None
) -> None:
    """Run a queued job to its end. `cancel`, when set, stops it as a cancel request does."""
    cancel = cancel or anyio.Event()
    async with transaction(database) as session:
        job = await runs.claim(session, job_id)
    if job is None:
        log.info("fine_tune_skipped", job_id=str(job_id))
        return
    log.info("fine_tune_started", job_id=str(job_id), attempt=job.attempts)
    try:
        async with transaction(database) as session:
            plan = await runs.plan(session, job=job, settings=settings)
        result = await _train(database, settings, plan, cancel)
    except (AppError, TrainingFailed, TrainingCancelled) as exc:
        outcome: BaseException | None = exc
        result = None
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True):
            async with transaction(database) as session:
                await runs.hand_back(session, job_id)
        raise
    except Exception as exc:
        log.exception("fine_tune_crashed", job_id=str(job_id))
        outcome, result = exc, None
    else:
        outcome = None
    with anyio.CancelScope(shield=True):
        await _settle(database, settings, job_id, outcome, result)
    log.info("fine_tune_finished", job_id=str(job_id))
