"""A job started through OpenAI's SDK trains the tiny checkpoint for real; the model it makes is
listed in /v1/models and answers /v1/chat/completions."""

from pathlib import Path
from typing import Any

import anyio
import httpx
import openai
import pytest
from fastapi import FastAPI
from openai.types.fine_tuning import FineTuningJob

from tests.datasets.support import jsonl
from tests.fine_tuning.conftest import build_trainable_checkpoint, make_examples
from tests.fine_tuning.test_jobs import register_model
from tests.llm.checkpoints import CHAT_TEMPLATE

pytestmark = pytest.mark.training

BASE = "tiny-base"
FINISHED = {"succeeded", "failed", "cancelled"}


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("peft", reason="training needs colloquy[train]")
    root = tmp_path_factory.mktemp("models")
    build_trainable_checkpoint(root / "tiny-chat", chat_template=CHAT_TEMPLATE)
    return root


@pytest.fixture
def settings_overrides(model_root: Path, tmp_path: Path) -> dict[str, Any]:
    # Fine-tuned models go to var/models, which must be a model directory to be served.
    return {"model_dirs": [str(model_root), str(tmp_path / "var" / "models")]}


async def wait_for(sdk: openai.AsyncOpenAI, job_id: str, within: float) -> FineTuningJob:
    with anyio.fail_after(within):
        while True:
            job = await sdk.fine_tuning.jobs.retrieve(job_id)
            if job.status in FINISHED:
                return job
            await anyio.sleep(0.2)


async def test_a_job_trains_a_model_that_answers_completions(
    app: FastAPI, client: httpx.AsyncClient, model_root: Path, writer: openai.AsyncOpenAI
) -> None:
    await register_model(app, client, model_root / "tiny-chat", name=BASE)
    training = await writer.files.create(
        file=("greetings.jsonl", jsonl(make_examples())), purpose="fine-tune"
    )

    created = await writer.fine_tuning.jobs.create(
        model=BASE,
        training_file=training.id,
        hyperparameters={"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 50},
        suffix="greeter",
    )
    job = await wait_for(writer, created.id, within=90)

    assert job.status == "succeeded", job.error
    assert job.error is None
    assert job.finished_at is not None
    assert job.trained_tokens is not None
    assert job.trained_tokens > 0
    assert job.fine_tuned_model is not None
    assert job.fine_tuned_model.startswith(f"ft:{BASE}:greeter:")
    events = await writer.fine_tuning.jobs.list_events(job.id, limit=100)
    assert events.data[0].message.startswith("Job succeeded")
    assert "metrics" in {event.type for event in events.data}
    checkpoints = await writer.fine_tuning.jobs.checkpoints.list(job.id)
    assert [item.step_number for item in checkpoints.data] == [10, 5]
    assert checkpoints.data[0].fine_tuned_model_checkpoint == (
        f"{job.fine_tuned_model}:ckpt-step-10"
    )
    assert checkpoints.data[0].metrics.train_loss is not None

    models = await writer.models.list()
    listed = {model.id: model for model in models.data}
    assert job.fine_tuned_model in listed
    assert listed[job.fine_tuned_model].owned_by == "user"
    completion = await writer.chat.completions.create(
        model=job.fine_tuned_model,
        messages=[{"role": "user", "content": "say hello"}],
        max_tokens=8,
    )
    assert completion.model == job.fine_tuned_model
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0
