"""Fine-tuning jobs over HTTP, with the runner held: checks, defaults, limits, isolation, cancel."""

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from colloquy.core.database import transaction
from colloquy.fine_tuning.models import FineTuneJob, JobStatus
from tests.datasets.support import DATASETS, make_dataset, valid_file
from tests.keys.support import bearer, make_key
from tests.support import Account, assert_problem, make_account, make_admin

JOBS = "/api/v1/fine-tuning/jobs"
DEFAULTS = {
    "n_epochs": 3,
    "batch_size": 4,
    "learning_rate": 2e-4,
    "lora_rank": 8,
    "lora_alpha": 16,
    "max_seq_length": 1024,
    "seed": 42,
}


@dataclass
class HeldRunner:
    """Takes the place of the app's runner: jobs stay queued, and what it was told is kept."""

    enqueued: list[uuid.UUID] = field(default_factory=list)
    cancelled: list[uuid.UUID] = field(default_factory=list)
    # Set to make the queue unreachable, as a broker outage would.
    down: bool = False

    async def enqueue(self, job_id: uuid.UUID) -> None:
        if self.down:
            raise ConnectionError("the queue is unreachable")
        self.enqueued.append(job_id)

    async def cancel(self, job_id: uuid.UUID) -> None:
        if self.down:
            raise ConnectionError("the queue is unreachable")
        self.cancelled.append(job_id)


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
def runner(app: FastAPI) -> HeldRunner:
    held = HeldRunner()
    app.state.fine_tuning_runner = held
    return held


def job_url(job_id: str, *parts: str) -> str:
    return "/".join([JOBS, job_id, *parts])


async def register_model(
    app: FastAPI, client: httpx.AsyncClient, path: Path | str, *, name: str = "base-local"
) -> dict[str, Any]:
    admin = await make_admin(app, client)
    response = await client.post(
        "/api/v1/models",
        json={
            "name": name,
            "provider": "local",
            "provider_model": str(path),
            "context_window": 512,
            "max_output_tokens": 64,
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Setup:
    account: Account
    model: dict[str, Any]
    dataset: dict[str, Any]


@pytest.fixture
async def setup(
    app: FastAPI, client: httpx.AsyncClient, model_dir: Path, runner: HeldRunner
) -> Setup:
    model = await register_model(app, client, model_dir / "base")
    account = await make_account(client)
    dataset = await make_dataset(client, account)
    return Setup(account=account, model=model, dataset=dataset)


async def create(client: httpx.AsyncClient, account: Account, **fields: Any) -> httpx.Response:
    return await client.post(JOBS, json=fields, headers=account.headers)


async def make_job(client: httpx.AsyncClient, setup: Setup, **fields: Any) -> dict[str, Any]:
    payload = {"model": setup.model["id"], "training_dataset_id": setup.dataset["id"], **fields}
    response = await create(client, setup.account, **payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def events(client: httpx.AsyncClient, account: Account, job_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        job_url(job_id, "events"), params={"limit": 100}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_create_queues_the_job_with_defaults_resolved(
    client: httpx.AsyncClient, setup: Setup, runner: HeldRunner
) -> None:
    job = await make_job(client, setup, hyperparameters={"n_epochs": 5}, suffix="support-v1")

    assert job["status"] == "queued"
    assert job["model"] == setup.model["id"]
    assert job["training_dataset_id"] == setup.dataset["id"]
    assert job["validation_dataset_id"] is None
    assert job["hyperparameters"] == {**DEFAULTS, "n_epochs": 5}
    assert job["suffix"] == "support-v1"
    assert job["progress"] == {
        "step": 0,
        "total_steps": None,
        "epoch": None,
        "train_loss": None,
        "valid_loss": None,
    }
    assert job["error"] is None
    assert job["fine_tuned_model_id"] is None
    assert job["trained_tokens"] is None
    assert job["started_at"] is None
    assert job["finished_at"] is None
    assert runner.enqueued == [uuid.UUID(job["id"])]

    stored = await client.get(job_url(job["id"]), headers=setup.account.headers)
    assert stored.json() == job
    listed = await events(client, setup.account, job["id"])
    assert [event["kind"] for event in listed] == ["created", "validated", "queued"]
    assert [event["seq"] for event in listed] == [1, 2, 3]
    assert listed[1]["data"]["training_examples"] == 10


async def test_a_queue_outage_after_the_commit_still_answers_with_the_job(
    client: httpx.AsyncClient, setup: Setup, runner: HeldRunner
) -> None:
    runner.down = True

    job = await make_job(client, setup)
    cancelled = await client.post(job_url(job["id"], "cancel"), headers=setup.account.headers)

    # Both are committed; the runner's recovery sends the job (or the cancel) again later.
    assert job["status"] == "queued"
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


async def test_the_model_may_be_named_and_a_validation_set_given(
    client: httpx.AsyncClient, setup: Setup
) -> None:
    validation = await make_dataset(client, setup.account, valid_file(12, tag="v"))
    job = await make_job(
        client, setup, model=setup.model["name"], validation_dataset_id=validation["id"]
    )
    assert job["model"] == setup.model["id"]
    assert job["validation_dataset_id"] == validation["id"]


async def test_an_unknown_model_is_404(client: httpx.AsyncClient, setup: Setup) -> None:
    for ref in ("no-such-model", str(uuid.uuid4())):
        response = await create(
            client, setup.account, model=ref, training_dataset_id=setup.dataset["id"]
        )
        assert_problem(response, 404, "model_not_found")


async def test_a_model_that_is_not_a_local_checkpoint_is_422(
    app: FastAPI, client: httpx.AsyncClient, setup: Setup, model_dir: Path
) -> None:
    response = await create(
        client, setup.account, model="colloquy-dev", training_dataset_id=setup.dataset["id"]
    )
    body = assert_problem(response, 422, "model_not_trainable")
    assert "local checkpoints" in body["detail"]

    missing = await register_model(app, client, model_dir / "gone", name="gone-local")
    response = await create(
        client, setup.account, model=missing["id"], training_dataset_id=setup.dataset["id"]
    )
    body = assert_problem(response, 422, "model_not_trainable")
    assert "no checkpoint" in body["detail"]


async def test_another_users_datasets_are_404(client: httpx.AsyncClient, setup: Setup) -> None:
    other = await make_account(client)
    theirs = await make_dataset(client, other)
    response = await create(
        client, setup.account, model=setup.model["id"], training_dataset_id=theirs["id"]
    )
    assert_problem(response, 404, "dataset_not_found")
    response = await create(
        client,
        setup.account,
        model=setup.model["id"],
        training_dataset_id=setup.dataset["id"],
        validation_dataset_id=theirs["id"],
    )
    assert_problem(response, 404, "dataset_not_found")


@pytest.mark.parametrize(
    "hyperparameters",
    [
        {"n_epochs": 0},
        {"n_epochs": 51},
        {"batch_size": 0},
        {"batch_size": 257},
        {"learning_rate": 0},
        {"learning_rate": 1.5},
        {"lora_rank": 0},
        {"lora_rank": 257},
        {"lora_alpha": 1025},
        {"max_seq_length": 8},
        {"max_seq_length": 40000},
        {"seed": -1},
        {"warmup": 3},
    ],
)
async def test_bad_hyperparameters_are_422(
    client: httpx.AsyncClient, setup: Setup, hyperparameters: dict[str, Any]
) -> None:
    response = await create(
        client,
        setup.account,
        model=setup.model["id"],
        training_dataset_id=setup.dataset["id"],
        hyperparameters=hyperparameters,
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"][:2] == ["body", "hyperparameters"]


@pytest.mark.parametrize("suffix", ["", "Upper", "with space", "dots.too", "x" * 41, "ünï"])
async def test_suffix_rules(client: httpx.AsyncClient, setup: Setup, suffix: str) -> None:
    response = await create(
        client,
        setup.account,
        model=setup.model["id"],
        training_dataset_id=setup.dataset["id"],
        suffix=suffix,
    )
    assert_problem(response, 422, "validation_error")


async def test_a_good_suffix_is_kept(client: httpx.AsyncClient, setup: Setup) -> None:
    job = await make_job(client, setup, suffix="a-b_0" + "x" * 35)
    assert job["suffix"] == "a-b_0" + "x" * 35


async def test_unknown_fields_are_refused(client: httpx.AsyncClient, setup: Setup) -> None:
    response = await create(
        client,
        setup.account,
        model=setup.model["id"],
        training_dataset_id=setup.dataset["id"],
        training_file="x",
    )
    assert_problem(response, 422, "validation_error")


async def test_queued_and_running_jobs_per_user_are_limited(
    app: FastAPI, client: httpx.AsyncClient, setup: Setup
) -> None:
    first = await make_job(client, setup)
    await make_job(client, setup)
    response = await create(
        client, setup.account, model=setup.model["id"], training_dataset_id=setup.dataset["id"]
    )
    assert_problem(response, 429, "too_many_jobs")

    # The limit is per user.
    other = await make_account(client)
    other_dataset = await make_dataset(client, other)
    response = await create(
        client, other, model=setup.model["id"], training_dataset_id=other_dataset["id"]
    )
    assert response.status_code == 201, response.text

    # A running job counts; a finished one does not.
    await set_status(app, first["id"], JobStatus.RUNNING)
    assert_problem(
        await create(
            client, setup.account, model=setup.model["id"], training_dataset_id=setup.dataset["id"]
        ),
        429,
        "too_many_jobs",
    )
    await set_status(app, first["id"], JobStatus.SUCCEEDED)
    await make_job(client, setup)


async def set_status(app: FastAPI, job_id: str, status: JobStatus, **values: Any) -> None:
    async with transaction(app.state.database) as session:
        await session.execute(
            update(FineTuneJob)
            .where(FineTuneJob.id == uuid.UUID(job_id))
            .values(status=status, **values)
        )


async def test_list_filters_by_status_and_pages(
    app: FastAPI, client: httpx.AsyncClient, setup: Setup
) -> None:
    first = await make_job(client, setup)
    second = await make_job(client, setup)
    await set_status(app, first["id"], JobStatus.FAILED)
    headers = setup.account.headers

    listed = (await client.get(JOBS, headers=headers)).json()
    assert listed["total"] == 2
    assert [item["id"] for item in listed["items"]] == [second["id"], first["id"]]
    page = (await client.get(JOBS, params={"limit": 1, "offset": 1}, headers=headers)).json()
    assert [item["id"] for item in page["items"]] == [first["id"]]
    assert page["limit"] == 1
    assert page["offset"] == 1
    failed = (await client.get(JOBS, params={"status": "failed"}, headers=headers)).json()
    assert [item["id"] for item in failed["items"]] == [first["id"]]
    assert_problem(await client.get(JOBS, params={"status": "done"}, headers=headers), 422)


async def test_another_users_job_is_404(client: httpx.AsyncClient, setup: Setup) -> None:
    job = await make_job(client, setup)
    other = await make_account(client)
    for method, path in [
        ("GET", job_url(job["id"])),
        ("GET", job_url(job["id"], "events")),
        ("GET", job_url(job["id"], "checkpoints")),
        ("POST", job_url(job["id"], "cancel")),
        ("GET", job_url(str(uuid.uuid4()))),
    ]:
        response = await client.request(method, path, headers=other.headers)
        assert_problem(response, 404, "job_not_found")
    assert (await client.get(JOBS, headers=other.headers)).json()["total"] == 0


async def test_cancelling_a_queued_job_is_immediate(
    client: httpx.AsyncClient, setup: Setup, runner: HeldRunner
) -> None:
    job = await make_job(client, setup)
    response = await client.post(job_url(job["id"], "cancel"), headers=setup.account.headers)
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["finished_at"] is not None
    # Told, so a queue can drop the run it still holds.
    assert runner.cancelled == [uuid.UUID(job["id"])]
    assert (await events(client, setup.account, job["id"]))[-1]["kind"] == "cancelled"

    again = await client.post(job_url(job["id"], "cancel"), headers=setup.account.headers)
    assert_problem(again, 409, "job_finished")


async def test_cancelling_a_running_job_signals_its_runner(
    app: FastAPI, client: httpx.AsyncClient, setup: Setup, runner: HeldRunner
) -> None:
    job = await make_job(client, setup)
    await set_status(app, job["id"], JobStatus.RUNNING)
    response = await client.post(job_url(job["id"], "cancel"), headers=setup.account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "running"
    assert runner.cancelled == [uuid.UUID(job["id"])]
    assert (await events(client, setup.account, job["id"]))[-1]["kind"] == "cancel_requested"


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED])
async def test_cancelling_a_finished_job_is_409(
    app: FastAPI, client: httpx.AsyncClient, setup: Setup, status: JobStatus
) -> None:
    job = await make_job(client, setup)
    await set_status(app, job["id"], status)
    response = await client.post(job_url(job["id"], "cancel"), headers=setup.account.headers)
    assert_problem(response, 409, "job_finished")


async def test_a_dataset_in_use_cannot_be_deleted(client: httpx.AsyncClient, setup: Setup) -> None:
    validation = await make_dataset(client, setup.account, valid_file(11, tag="v"))
    job = await make_job(client, setup, validation_dataset_id=validation["id"])
    headers = setup.account.headers
    for dataset_id in (setup.dataset["id"], validation["id"]):
        response = await client.delete(f"{DATASETS}/{dataset_id}", headers=headers)
        assert_problem(response, 409, "dataset_in_use")

    await client.post(job_url(job["id"], "cancel"), headers=headers)
    response = await client.delete(f"{DATASETS}/{setup.dataset['id']}", headers=headers)
    assert response.status_code == 204
    assert (await client.get(job_url(job["id"]), headers=headers)).json()[
        "training_dataset_id"
    ] is None


async def test_a_new_job_has_no_checkpoints(client: httpx.AsyncClient, setup: Setup) -> None:
    job = await make_job(client, setup)
    response = await client.get(job_url(job["id"], "checkpoints"), headers=setup.account.headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


async def test_api_keys_need_write_to_create_and_read_to_list(
    client: httpx.AsyncClient, setup: Setup
) -> None:
    reader = await make_key(client, setup.account, scopes=["read"])
    response = await client.post(
        JOBS,
        json={"model": setup.model["id"], "training_dataset_id": setup.dataset["id"]},
        headers=bearer(reader["key"]),
    )
    assert_problem(response, 403, "insufficient_scope")
    assert (await client.get(JOBS, headers=bearer(reader["key"]))).status_code == 200

    writer = await make_key(client, setup.account, scopes=["read", "write"])
    response = await client.post(
        JOBS,
        json={"model": setup.model["id"], "training_dataset_id": setup.dataset["id"]},
        headers=bearer(writer["key"]),
    )
    assert response.status_code == 201, response.text


async def test_without_authentication_every_route_is_401(
    client: httpx.AsyncClient, setup: Setup
) -> None:
    job = await make_job(client, setup)
    for method, path in [
        ("POST", JOBS),
        ("GET", JOBS),
        ("GET", job_url(job["id"])),
        ("GET", job_url(job["id"], "events")),
        ("GET", job_url(job["id"], "checkpoints")),
        ("POST", job_url(job["id"], "cancel")),
    ]:
        assert_problem(await client.request(method, path), 401)
