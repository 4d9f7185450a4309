"""Monthly quotas and key budgets: refused before any provider call on every HTTP entry point,
parallel calls held to one reservation's overshoot, and a reply under way allowed to finish."""

import asyncio
import uuid
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from tests.accounting.support import COMPLETIONS, completion, events, reservations, rollup_totals
from tests.chats.support import (
    GatedProvider,
    RecordingProvider,
    chat_url,
    list_messages,
    make_chat,
    make_model,
    send,
)
from tests.keys.support import bearer, make_key
from tests.support import Account, assert_problem, make_account, make_admin

ADMIN_USERS = "/api/v1/admin/users"


async def _set_quota(
    client: httpx.AsyncClient, admin: Account, account: Account, quota: int | None
) -> None:
    response = await client.patch(
        f"{ADMIN_USERS}/{account.id}", json={"monthly_token_quota": quota}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["monthly_token_quota"] == quota


async def _used_up(app: FastAPI, client: httpx.AsyncClient) -> tuple[Account, dict[str, Any]]:
    """An account whose quota the one reply it got has used up, and its chat."""
    admin = await make_admin(app, client)
    account = await make_account(client)
    chat = await make_chat(client, account)
    await send(client, account, chat["id"], "spend it")
    await _set_quota(client, admin, account, 1)
    return account, chat


async def test_every_http_entry_point_refuses_once_the_quota_is_used_up(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account, chat = await _used_up(app, client)
    recording = RecordingProvider()
    app.state.providers.register(recording)
    model = await make_model(app, provider=recording.name)
    await client.patch(
        chat_url(chat["id"]), json={"model_id": str(model.id)}, headers=account.headers
    )
    key = await make_key(client, account, scopes=["inference", "write"])
    before = await list_messages(client, account, chat["id"])
    reply_id = before["items"][-1]["id"]

    plain = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "more"}, headers=account.headers
    )
    streamed = await client.post(
        chat_url(chat["id"], "messages"),
        json={"content": "more", "stream": True},
        headers=account.headers,
    )
    regenerated = await client.post(
        chat_url(chat["id"], "messages", reply_id, "regenerate"), json={}, headers=account.headers
    )
    v1 = await client.post(
        COMPLETIONS, json=completion(model=model.name), headers=bearer(key["key"])
    )

    for response in (plain, streamed, regenerated):
        body = assert_problem(response, 429, "quota_exceeded")
        assert "monthly token quota" in body["detail"]
        assert int(response.headers["Retry-After"]) > 0
    assert v1.status_code == 429
    assert v1.json()["error"]["code"] == "insufficient_quota"
    assert v1.json()["error"]["type"] == "rate_limit_error"
    assert recording.requests == []
    assert await list_messages(client, account, chat["id"]) == before
    assert len(await events(app, account.id)) == 1


@pytest.mark.parametrize("settings_overrides", [{"monthly_token_quota": 1}])
async def test_the_default_quota_comes_from_the_settings(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    chat = await make_chat(client, account)

    await send(client, account, chat["id"], "the first call finds the month unused")
    refused = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "again"}, headers=account.headers
    )
    assert_problem(refused, 429, "quota_exceeded")

    await _set_quota(client, admin, account, 10**9)
    await send(client, account, chat["id"], "an override lifts it")
    await _set_quota(client, admin, account, None)
    refused = await client.post(
        chat_url(chat["id"], "messages"), json={"content": "back"}, headers=account.headers
    )
    assert_problem(refused, 429, "quota_exceeded")


async def test_a_key_budget_stops_the_key_but_not_its_owner(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await make_account(client)
    key = await make_key(client, account, scopes=["inference"], monthly_token_budget=1)
    other = await make_key(client, account, scopes=["inference"])

    first = await client.post(COMPLETIONS, json=completion(), headers=bearer(key["key"]))
    second = await client.post(COMPLETIONS, json=completion(), headers=bearer(key["key"]))
    sibling = await client.post(COMPLETIONS, json=completion(), headers=bearer(other["key"]))
    owner = await client.post(COMPLETIONS, json=completion(), headers=account.headers)

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "insufficient_quota"
    assert "budget" in second.json()["error"]["message"]
    assert sibling.status_code == owner.status_code == 200
    assert await reservations(app, account.id) == 0


async def test_parallel_calls_overshoot_the_quota_by_at_most_one_reservation(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    quota = 200
    await _set_quota(client, admin, account, quota)
    max_tokens = 40

    async def call() -> httpx.Response:
        body = completion("hello hello hello", max_tokens=max_tokens)
        return await client.post(COMPLETIONS, json=body, headers=account.headers)

    responses = await asyncio.gather(*(call() for _ in range(20)))

    statuses = [response.status_code for response in responses]
    assert set(statuses) == {200, 429}
    served = [r.json()["usage"] for r in responses if r.status_code == 200]
    biggest_estimate = max(u["prompt_tokens"] for u in served) + max_tokens
    _, input_tokens, output_tokens = await rollup_totals(app, account.id)
    assert input_tokens + output_tokens == sum(u["total_tokens"] for u in served)
    assert input_tokens + output_tokens <= quota + biggest_estimate
    assert await reservations(app, account.id) == 0


async def test_a_reply_under_way_finishes_when_the_quota_runs_out(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    gated = GatedProvider()
    app.state.providers.register(gated)
    model = await make_model(app, provider=gated.name)
    chat = await make_chat(client, account, model_id=str(model.id))
    await _set_quota(client, admin, account, 10**6)
    results: list[httpx.Response] = []

    async def reply() -> None:
        results.append(
            await client.post(
                chat_url(chat["id"], "messages"), json={"content": "Hi"}, headers=account.headers
            )
        )

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reply)
        await gated.started.wait()
        await _set_quota(client, admin, account, 0)
        gated.release.set()

    [response] = results
    assert response.status_code == 201, response.text
    assert response.json()["assistant_message"]["status"] == "complete"
    [event] = await events(app, account.id)
    assert (event.status, event.input_tokens, event.output_tokens) == ("complete", 5, 2)
    assert event.chat_id == uuid.UUID(chat["id"])
    assert await reservations(app, account.id) == 0


async def test_admins_set_quotas_within_bounds(client: httpx.AsyncClient, app: FastAPI) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    for bad in (-1, 10**16, "many", 1.5):
        response = await client.patch(
            f"{ADMIN_USERS}/{account.id}",
            json={"monthly_token_quota": bad},
            headers=admin.headers,
        )
        assert_problem(response, 422, "validation_error")
    refused = await client.patch(
        f"{ADMIN_USERS}/{account.id}", json={"monthly_token_quota": 5}, headers=account.headers
    )
    assert refused.status_code == 403
