"""The rollup the reports read stays equal to the events, however many calls land at once."""

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import delete

from colloquy.accounts.models import User
from colloquy.core.database import transaction
from colloquy.usage.models import UsageSource
from tests.keys.support import make_key
from tests.support import make_account
from tests.usage.support import USAGE, make_model, record_call, rollup_and_event_sums


async def test_rollup_equals_the_events(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    models = [await make_model(app) for _ in range(3)]
    key = await make_key(client, user)
    for index in range(30):
        await record_call(
            app,
            user_id=user.id,
            model_id=models[index % 3],
            key_id=key["id"] if index % 2 else None,
            input_tokens=index,
            output_tokens=2 * index,
            cached_tokens=index % 4,
            reasoning_tokens=index % 5,
            source=list(UsageSource)[index % 3],
        )
    rollup, events = await rollup_and_event_sums(app, user.id)
    assert rollup == events
    assert rollup["requests"] == 30
    report = (await client.get(USAGE, headers=user.headers)).json()["totals"]
    assert {name: report[name] for name in rollup} == rollup


async def test_concurrent_records_are_all_counted(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    await asyncio.gather(
        *(
            record_call(
                app,
                user_id=user.id,
                model_id=model,
                input_tokens=index + 1,
                output_tokens=1,
                cached_tokens=1,
            )
            for index in range(50)
        )
    )
    rollup, events = await rollup_and_event_sums(app, user.id)
    assert rollup == events
    assert rollup == {
        "requests": 50,
        "input_tokens": 50 * 51 // 2,
        "output_tokens": 50,
        "cached_tokens": 50,
        "reasoning_tokens": 0,
    }
    body = (await client.get(USAGE, params={"group_by": "model"}, headers=user.headers)).json()
    assert [(row["model_id"], row["requests"]) for row in body["rows"]] == [(str(model), 50)]


async def test_deleting_a_user_removes_their_usage(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    await record_call(app, user_id=user.id, model_id=model)
    async with transaction(app.state.database) as session:
        await session.execute(delete(User).where(User.id == uuid.UUID(user.id)))
    rollup, events = await rollup_and_event_sums(app, user.id)
    assert rollup["requests"] == events["requests"] == 0
