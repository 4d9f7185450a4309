"""/v1/fine_tuning/jobs through OpenAI's SDK, with the runner held: jobs in OpenAI's shape, its
hyperparameters mapped to ours, cursor pages, cancel, events, checkpoints and the errors."""

import uuid
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import openai
import pytest
from fastapi import FastAPI

from colloquy.core.database import transaction
from colloquy.fine_tuning.models import FineTuneCheckpoint
from tests.datasets.support import valid_file
from tests.fine_tuning.test_jobs import HeldRunner, job_url, register_model
from tests.keys.support import make_key
from tests.openai_api.support import open_sdk
from tests.support import Account, make_account

BASE = "base-local"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A model directory with a checkpoint the registry accepts (nothing here trains it)."""
    root = tmp_path / "models"
    (root / "base").mkdir(parents=True)
    (root / "base" / "config.json").write_text("{}")
    return root


@pytest.fixture
def settings_overrides(model_dir: Path) -> dict[str, Any]:
    return {"model_dirs": [str(model_dir)]}


@pytest.fixture
async def runner(app: FastAPI, client: httpx.AsyncClient, model_dir: Path) -> HeldRunner:
    held = HeldRunner()
    app.state.fine_tuning_runner = held
    await register_model(app, client, model_dir / "base", name=BASE)
    return held


async def upload(sdk: openai.AsyncOpenAI, tag: str = "") -> str:
    created = await sdk.files.create(file=("t.jsonl", valid_file(tag=tag)), purpose="fine-tune")
    return created.id


async def test_create_answers_a_fine_tuning_job(
    writer: openai.AsyncOpenAI,
    client: httpx.AsyncClient,
    account: Account,
    runner: HeldRunner,
) -> None:
    training, validation = await upload(writer, "t"), await upload(writer, "v")

    job = await writer.fine_tuning.jobs.create(
        model=BASE,
        training_file=training,
        validation_file=validation,
        hyperparameters={"n_epochs": 2, "learning_rate_multiplier": 2},
        suffix="greeter",
        seed=7,
    )

    assert job.object == "fine_tuning.job"
    assert job.id.startswith("ftjob-")
    assert job.status == "queued"
    assert job.model == BASE
    assert job.training_file == training
    assert job.validation_file == validation
    assert job.hyperparameters.n_epochs == 2
    assert job.hyperparameters.batch_size == 4
    assert job.hyperparameters.learning_rate_multiplier == pytest.approx(2.0)
    assert job.seed == 7
    assert job.fine_tuned_model is None
    assert job.finished_at is None
    assert job.error is None
    assert job.result_files == []
    assert job.organization_id == f"user-{uuid.UUID(account.id).hex}"
    assert job.model_extra is not None
    assert job.model_extra["user_provided_suffix"] == "greeter"
    job_id = uuid.UUID(job.id.removeprefix("ftjob-"))
    assert runner.enqueued == [job_id]
    ours = (await client.get(job_url(str(job_id)), headers=account.headers)).json()
    assert ours["hyperparameters"]["learning_rate"] == pytest.approx(4e-4)
    assert ours["hyperparameters"]["seed"] == 7
    assert ours["suffix"] == "greeter"


async def test_auto_takes_our_defaults_and_method_hyperparameters_count(
    writer: openai.AsyncOpenAI, runner: HeldRunner
) -> None:
    training = await upload(writer)

    automatic = await writer.fine_tuning.jobs.create(
        model=BASE, training_file=training, hyperparameters={"n_epochs": "auto"}
    )
    chosen = await writer.fine_tuning.jobs.create(
        model=BASE,
        training_file=training,
        method={"type": "supervised", "supervised": {"hyperparameters": {"batch_size": 2}}},
    )

    assert automatic.hyperparameters.n_epochs == 3
    assert automatic.hyperparameters.learning_rate_multiplier == pytest.approx(1.0)
    assert automatic.seed == 42
    assert chosen.hyperparameters.batch_size == 2


async def test_list_retrieve_and_cancel(sync_writer: openai.OpenAI, runner: HeldRunner) -> None:
    def run() -> dict[str, Any]:
        training = sync_writer.files.create(file=("t.jsonl", valid_file()), purpose="fine-tune")
        first = sync_writer.fine_tuning.jobs.create(model=BASE, training_file=training.id)
        cancelled = sync_writer.fine_tuning.jobs.cancel(first.id)
        second = sync_writer.fine_tuning.jobs.create(model=BASE, training_file=training.id)
        listed = sync_writer.fine_tuning.jobs.list()
        page = sync_writer.fine_tuning.jobs.list(limit=1)
        following = sync_writer.fine_tuning.jobs.list(limit=1, after=page.data[0].id)
        retrieved = sync_writer.fine_tuning.jobs.retrieve(first.id)
        return locals()

    seen = await anyio.to_thread.run_sync(run)

    first, second = seen["first"], seen["second"]
    assert seen["cancelled"].status == "cancelled"
    assert seen["cancelled"].finished_at is not None
    assert [job.id for job in seen["listed"].data] == [second.id, first.id]
    assert seen["listed"].has_more is False
    assert [job.id for job in seen["page"].data] == [second.id]
    assert seen["page"].has_more is True
    assert [job.id for job in seen["following"].data] == [first.id]
    assert seen["following"].has_more is False
    assert seen["retrieved"].status == "cancelled"


async def test_cancelling_a_finished_job_is_a_conflict(
    writer: openai.AsyncOpenAI, runner: HeldRunner
) -> None:
    job = await writer.fine_tuning.jobs.create(model=BASE, training_file=await upload(writer))
    await writer.fine_tuning.jobs.cancel(job.id)

    with pytest.raises(openai.ConflictError) as caught:
        await writer.fine_tuning.jobs.cancel(job.id)

    assert caught.value.code == "job_finished"
    assert caught.value.type == "invalid_request_error"


async def test_events_come_newest_first(writer: openai.AsyncOpenAI, runner: HeldRunner) -> None:
    job = await writer.fine_tuning.jobs.create(model=BASE, training_file=await upload(writer))

    events = await writer.fine_tuning.jobs.list_events(job.id)
    page = await writer.fine_tuning.jobs.list_events(job.id, limit=2)
    rest = await writer.fine_tuning.jobs.list_events(job.id, after=page.data[-1].id)

    assert [event.object for event in events.data] == ["fine_tuning.job.event"] * 3
    assert [event.message for event in events.data] == [
        "Job queued.",
        "Files validated.",
        f"Fine-tuning job {uuid.UUID(job.id.removeprefix('ftjob-'))} created.",
    ]
    assert {event.level for event in events.data} == {"info"}
    assert {event.type for event in events.data} == {"message"}
    assert events.data[1].data == {"training_examples": 10, "validation_examples": None}
    assert events.has_more is False
    assert [event.id for event in page.data] == [event.id for event in events.data[:2]]
    assert page.has_more is True
    assert [event.id for event in rest.data] == [events.data[2].id]
    assert rest.has_more is False


async def test_checkpoints_latest_first(
    app: FastAPI, writer: openai.AsyncOpenAI, runner: HeldRunner
) -> None:
    job = await writer.fine_tuning.jobs.create(model=BASE, training_file=await upload(writer))
    assert (await writer.fine_tuning.jobs.checkpoints.list(job.id)).data == []
    job_id = uuid.UUID(job.id.removeprefix("ftjob-"))
    async with transaction(app.state.database) as session:
        session.add_all(
            FineTuneCheckpoint(
                job_id=job_id,
                step=step,
                epoch=step / 5,
                metrics={"train_loss": 2.0 / step, "valid_loss": None, "token_accuracy": 0.5},
                path=f"/nowhere/{step}",
            )
            for step in (5, 10)
        )

    listed = await writer.fine_tuning.jobs.checkpoints.list(job.id)
    page = await writer.fine_tuning.jobs.checkpoints.list(job.id, limit=1)
    rest = await writer.fine_tuning.jobs.checkpoints.list(job.id, after=page.data[0].id)

    assert [item.step_number for item in listed.data] == [10, 5]
    latest = listed.data[0]
    assert latest.object == "fine_tuning.job.checkpoint"
    assert latest.id.startswith("ftckpt-")
    assert latest.fine_tuning_job_id == job.id
    assert latest.fine_tuned_model_checkpoint == f"{job.id}:ckpt-step-10"
    assert latest.metrics.step == 10
    assert latest.metrics.train_loss == pytest.approx(0.2)
    assert latest.metrics.train_mean_token_accuracy == pytest.approx(0.5)
    assert latest.created_at > 0
    assert listed.model_extra is not None
    assert listed.model_extra["first_id"] == latest.id
    assert listed.model_extra["last_id"] == listed.data[1].id
    assert page.has_more is True
    assert [item.step_number for item in rest.data] == [5]


async def test_an_unknown_training_file_names_the_field(
    writer: openai.AsyncOpenAI, runner: HeldRunner
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await writer.fine_tuning.jobs.create(model=BASE, training_file="file-nope")

    assert caught.value.code == "file_not_found"
    assert caught.value.param == "training_file"
    assert runner.enqueued == []


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        (
            {"hyperparameters": {"learning_rate_multiplier": 10_000}},
            "hyperparameters.learning_rate_multiplier",
        ),
        ({"suffix": "Not Allowed!"}, "suffix"),
        ({"method": {"type": "dpo"}}, "method.type"),
    ],
)
async def test_bad_requests_name_the_field(
    writer: openai.AsyncOpenAI, runner: HeldRunner, fields: dict[str, Any], param: str
) -> None:
    training = await upload(writer)

    with pytest.raises(openai.BadRequestError) as caught:
        await writer.fine_tuning.jobs.create(model=BASE, training_file=training, **fields)

    assert caught.value.param == param
    assert caught.value.type == "invalid_request_error"
    assert runner.enqueued == []


async def test_an_unknown_model_is_not_found(
    writer: openai.AsyncOpenAI, runner: HeldRunner
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await writer.fine_tuning.jobs.create(model="no-such", training_file=await upload(writer))

    assert caught.value.code == "model_not_found"


async def test_the_development_model_cannot_be_fine_tuned(
    writer: openai.AsyncOpenAI, runner: HeldRunner
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await writer.fine_tuning.jobs.create(
            model="colloquy-dev", training_file=await upload(writer)
        )

    assert caught.value.code == "model_not_trainable"
    assert caught.value.param == "model"


@pytest.mark.parametrize("job_id", ["ftjob-nope", f"ftjob-{uuid.UUID(int=1).hex}"])
async def test_an_unknown_job_is_not_found(
    writer: openai.AsyncOpenAI, runner: HeldRunner, job_id: str
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await writer.fine_tuning.jobs.retrieve(job_id)
    with pytest.raises(openai.NotFoundError):
        await writer.fine_tuning.jobs.cancel(job_id)

    assert caught.value.code == "job_not_found"


async def test_another_users_job_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, writer: openai.AsyncOpenAI, runner: HeldRunner
) -> None:
    training = await upload(writer)
    job = await writer.fine_tuning.jobs.create(model=BASE, training_file=training)
    other = await make_account(client)

    async with open_sdk(app, other.access_token) as stranger:
        for call in (
            stranger.fine_tuning.jobs.retrieve,
            stranger.fine_tuning.jobs.cancel,
            stranger.fine_tuning.jobs.list_events,
            stranger.fine_tuning.jobs.checkpoints.list,
        ):
            with pytest.raises(openai.NotFoundError):
                await call(job.id)
        assert (await stranger.fine_tuning.jobs.list()).data == []
        with pytest.raises(openai.NotFoundError) as caught:
            await stranger.fine_tuning.jobs.create(model=BASE, training_file=training)

    assert caught.value.code == "file_not_found"
    assert (await writer.fine_tuning.jobs.retrieve(job.id)).status == "queued"


async def test_a_file_a_job_uses_cannot_be_deleted(
    writer: openai.AsyncOpenAI, runner: HeldRunner
) -> None:
    training = await upload(writer)
    job = await writer.fine_tuning.jobs.create(model=BASE, training_file=training)

    with pytest.raises(openai.ConflictError) as caught:
        await writer.files.delete(training)

    assert caught.value.code == "dataset_in_use"
    await writer.fine_tuning.jobs.cancel(job.id)
    assert (await writer.files.delete(training)).deleted is True
    assert (await writer.fine_tuning.jobs.retrieve(job.id)).training_file is None


async def test_a_key_needs_write_to_create_and_cancel(
    app: FastAPI,
    client: httpx.AsyncClient,
    account: Account,
    writer: openai.AsyncOpenAI,
    runner: HeldRunner,
) -> None:
    training = await upload(writer)
    job = await writer.fine_tuning.jobs.create(model=BASE, training_file=training)
    read_only = (await make_key(client, account, scopes=["read"]))["key"]

    async with open_sdk(app, read_only) as reader:
        assert [item.id for item in (await reader.fine_tuning.jobs.list()).data] == [job.id]
        assert len((await reader.fine_tuning.jobs.list_events(job.id)).data) == 3
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await reader.fine_tuning.jobs.create(model=BASE, training_file=training)
        with pytest.raises(openai.PermissionDeniedError):
            await reader.fine_tuning.jobs.cancel(job.id)

    assert caught.value.type == "permission_error"
    assert caught.value.code == "insufficient_scope"
    assert runner.enqueued == [uuid.UUID(job.id.removeprefix("ftjob-"))]
