"""Jobs run for real by the embedded runner: the tiny checkpoint trained end to end, its events
streamed live, cancelled mid-run, and jobs a dead process left running recovered at start-up."""

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from colloquy.app import create_app
from colloquy.core.database import transaction
from colloquy.core.settings import Settings
from colloquy.fine_tuning.models import FineTuneJob, JobStatus
from colloquy.usage.models import UsageEvent, UsageSource
from tests.conftest import empty_tables
from tests.datasets.support import jsonl, upload
from tests.fine_tuning.conftest import make_examples
from tests.fine_tuning.test_jobs import JOBS, job_url, register_model
from tests.support import Account, make_account
from tests.ws.support import Live, live_server

pytestmark = pytest.mark.training

FAST = {"n_epochs": 3, "batch_size": 4, "learning_rate": 1e-2, "max_seq_length": 128}
FINISHED = {"succeeded", "failed", "cancelled"}


@pytest.fixture
def settings_overrides(model_root: Path, tmp_path: Path) -> dict[str, Any]:
    # Fine-tuned models go to var/models, which must be a model directory to be served.
    return {"model_dirs": [str(model_root), str(tmp_path / "var" / "models")]}


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    try:
        async with live_server(settings) as served:
            yield served
    finally:
        await empty_tables(settings.database_url)


async def prepare(app: FastAPI, http: httpx.AsyncClient) -> tuple[Account, str, str]:
    """An account with the example dataset, and the trainable `tiny-chat` registered."""
    model = await register_model(app, http, "tiny-chat", name=f"tiny-{uuid.uuid4().hex[:6]}")
    account = await make_account(http)
    response = await upload(http, account, jsonl(make_examples()))
    assert response.status_code == 201, response.text
    return account, model["id"], response.json()["id"]


async def start_job(
    http: httpx.AsyncClient, account: Account, model_id: str, dataset_id: str, **fields: Any
) -> dict[str, Any]:
    payload = {"model": model_id, "training_dataset_id": dataset_id, **fields}
    response = await http.post(JOBS, json=payload, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for(
    http: httpx.AsyncClient, account: Account, job_id: str, statuses: set[str], within: float
) -> dict[str, Any]:
    with anyio.fail_after(within):
        while True:
            job: dict[str, Any] = (await http.get(job_url(job_id), headers=account.headers)).json()
            if job["status"] in statuses:
                return job
            await anyio.sleep(0.1)


async def stream_events(http: httpx.AsyncClient, account: Account, job_id: str) -> list[Any]:
    """Follow the job's events over SSE until the server ends the stream."""
    received: list[Any] = []
    headers = {**account.headers, "Accept": "text/event-stream"}
    async with http.stream(
        "GET", job_url(job_id, "events"), headers=headers, timeout=90
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if not line:
                if "data" in fields:
                    received.append(
                        (fields.get("event"), int(fields["id"]), json.loads(fields["data"]))
                    )
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    return received


async def test_a_job_trains_a_model_that_answers_in_chat(live: Live, settings: Settings) -> None:
    http = live.http
    account, model_id, dataset_id = await prepare(live.app, http)
    started = time.monotonic()
    job = await start_job(
        http, account, model_id, dataset_id, hyperparameters=FAST, suffix="greeter"
    )

    streamed = await stream_events(http, account, job["id"])
    elapsed = time.monotonic() - started
    assert elapsed < 60
    kinds = [kind for kind, _, _ in streamed]
    assert kinds[:3] == ["created", "validated", "queued"]
    assert {"started", "metrics", "checkpoint", "epoch"} <= set(kinds)
    assert kinds[-1] == "succeeded"
    assert [seq for _, seq, _ in streamed] == list(range(1, len(streamed) + 1))
    epoch_losses = [data["data"]["train_loss"] for kind, _, data in streamed if kind == "epoch"]
    assert len(epoch_losses) == 3
    assert epoch_losses[-1] < epoch_losses[0]

    done = (await http.get(job_url(job["id"]), headers=account.headers)).json()
    assert done["status"] == "succeeded"
    assert done["error"] is None
    assert done["trained_tokens"] > 0
    assert done["progress"]["step"] == done["progress"]["total_steps"] == 15
    assert done["started_at"] is not None
    assert done["finished_at"] is not None
    paged = (await http.get(job_url(job["id"], "events"), headers=account.headers)).json()
    assert paged["total"] == len(streamed)

    checkpoints = await http.get(job_url(job["id"], "checkpoints"), headers=account.headers)
    items = checkpoints.json()["items"]
    assert [item["step"] for item in items] == [5, 10, 15]
    assert all(item["metrics"]["token_accuracy"] is not None for item in items)

    model = (
        await http.get(f"/api/v1/models/{done['fine_tuned_model_id']}", headers=account.headers)
    ).json()
    assert model["kind"] == "fine_tuned"
    assert model["owner_id"] == account.id
    assert model["base_model_id"] == model_id
    assert model["provider"] == "local"
    assert model["name"].startswith("ft:tiny-")
    assert ":greeter:" in model["name"]
    output = settings.var_dir / "models" / job["id"]
    assert (output / "config.json").is_file()
    assert not (settings.var_dir / "fine_tuning" / job["id"]).exists()

    chat = await http.post("/api/v1/chats", json={"model_id": model["id"]}, headers=account.headers)
    assert chat.status_code == 201, chat.text
    reply = await http.post(
        f"/api/v1/chats/{chat.json()['id']}/messages",
        json={"content": "say hello"},
        headers=account.headers,
        timeout=60,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["assistant_message"]["status"] == "complete"

    async with transaction(live.app.state.database, write=False) as session:
        charged = (
            await session.scalars(
                select(UsageEvent).where(UsageEvent.source == UsageSource.FINE_TUNING)
            )
        ).all()
    assert [(str(row.user_id), row.input_tokens, row.output_tokens) for row in charged] == [
        (account.id, done["trained_tokens"], 0)
    ]
    assert charged[0].model_id == uuid.UUID(model_id)

    # Its owner may delete the model, and its files go with it; nobody else sees it.
    other = await make_account(http)
    target = f"/api/v1/models/{model['id']}"
    assert (await http.delete(target, headers=other.headers)).status_code == 404
    assert (await http.delete(target, headers=account.headers)).status_code == 204
    assert not output.exists()
    final = (await http.get(job_url(job["id"]), headers=account.headers)).json()
    assert final["fine_tuned_model_id"] is None


async def test_cancel_stops_a_running_job_and_removes_its_files(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    account, model_id, dataset_id = await prepare(app, client)
    slow = {**FAST, "n_epochs": 50, "batch_size": 1, "learning_rate": 1e-4}
    job = await start_job(client, account, model_id, dataset_id, hyperparameters=slow)

    with anyio.fail_after(60):
        while True:
            listed = (
                await client.get(
                    job_url(job["id"], "events"), params={"limit": 100}, headers=account.headers
                )
            ).json()["items"]
            if any(event["kind"] == "metrics" for event in listed):
                break
            await anyio.sleep(0.1)
    response = await client.post(job_url(job["id"], "cancel"), headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] in {"running", "cancelled"}

    cancelled = await wait_for(client, account, job["id"], FINISHED, within=15)
    assert cancelled["status"] == "cancelled"
    assert cancelled["fine_tuned_model_id"] is None
    assert cancelled["progress"]["step"] < cancelled["progress"]["total_steps"]
    assert not (settings.var_dir / "models" / job["id"]).exists()
    assert not (settings.var_dir / "fine_tuning" / job["id"]).exists()
    listed = (
        await client.get(
            job_url(job["id"], "events"), params={"limit": 100}, headers=account.headers
        )
    ).json()["items"]
    kinds = [event["kind"] for event in listed]
    # Events the trainer had already sent may land between the request and the outcome.
    assert kinds[-1] == "cancelled"
    assert "cancel_requested" in kinds
    assert "succeeded" not in kinds


async def test_start_up_requeues_or_fails_jobs_a_dead_process_left_running(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    account, model_id, dataset_id = await prepare(app, client)
    rows = {
        attempts: FineTuneJob(
            owner_id=uuid.UUID(account.id),
            base_model_id=uuid.UUID(model_id),
            training_dataset_id=uuid.UUID(dataset_id),
            hyperparameters={**FAST, "n_epochs": 1, "lora_rank": 8, "lora_alpha": 16, "seed": 1},
            status=JobStatus.RUNNING,
            attempts=attempts,
        )
        for attempts in (1, settings.fine_tuning_max_attempts)
    }
    async with transaction(app.state.database) as session:
        session.add_all(rows.values())
    lost, exhausted = (str(rows[1].id), str(rows[settings.fine_tuning_max_attempts].id))

    restarted = create_app(settings)
    async with LifespanManager(restarted):
        transport = httpx.ASGITransport(app=restarted, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            failed = (await http.get(job_url(exhausted), headers=account.headers)).json()
            assert failed["status"] == "failed"
            assert failed["error"]["code"] == "worker_lost"
            requeued = await wait_for(http, account, lost, FINISHED, within=60)
            assert requeued["status"] == "succeeded", requeued
            kinds = [
                event["kind"]
                for event in (
                    await http.get(job_url(lost, "events"), headers=account.headers)
                ).json()["items"]
            ]
            assert kinds[:2] == ["requeued", "started"]
            assert kinds[-1] == "succeeded"
    async with transaction(app.state.database, write=False) as session:
        job = await session.get(FineTuneJob, rows[1].id)
    assert job is not None
    assert job.attempts == 2
