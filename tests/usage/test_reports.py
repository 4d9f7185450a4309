"""GET /usage: sums from the rollup per day, model, key or source, for the caller alone."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from colloquy.usage.models import UsageSource
from tests.chats.support import count_statements
from tests.keys.support import bearer, make_key
from tests.support import assert_problem, make_account
from tests.usage.support import (
    USAGE,
    add_usage,
    add_usage_days,
    delete_model,
    make_model,
    record_call,
    today,
)

COUNT_FIELDS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
)


async def get_usage(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    response = await client.get(USAGE, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_totals_are_row_sums(body: dict[str, Any]) -> None:
    for name in COUNT_FIELDS:
        assert body["totals"][name] == sum(row[name] for row in body["rows"]), name


async def test_without_group_by_only_totals(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    await record_call(
        app, user_id=user.id, model_id=model, input_tokens=7, output_tokens=3, cached_tokens=2
    )
    await record_call(app, user_id=user.id, model_id=model, reasoning_tokens=4)
    body = await get_usage(client, user.headers)
    assert body["group_by"] is None
    assert body["rows"] == []
    assert body["totals"] == {
        "requests": 2,
        "input_tokens": 17,
        "output_tokens": 8,
        "cached_tokens": 2,
        "reasoning_tokens": 4,
        "total_tokens": 25,
    }
    assert body["end"] == today().isoformat()
    assert body["start"] == (today() - timedelta(days=29)).isoformat()


async def test_nothing_used_is_zero(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    body = await get_usage(client, user.headers, group_by="day")
    assert body["rows"] == []
    assert set(body["totals"].values()) == {0}


async def test_group_by_day_ascending_with_inclusive_edges(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_account(client)
    model = await make_model(app)
    start = today() - timedelta(days=10)
    end = today() - timedelta(days=5)
    for offset, tokens in ((11, 1000), (10, 10), (7, 20), (5, 30), (4, 2000)):
        await add_usage(
            app,
            user_id=user.id,
            day=today() - timedelta(days=offset),
            model_id=model,
            input_tokens=tokens,
            output_tokens=1,
        )
    await add_usage(app, user_id=user.id, day=end, model_id=model, source=UsageSource.API)
    body = await get_usage(
        client, user.headers, group_by="day", start=start.isoformat(), end=end.isoformat()
    )
    assert [row["day"] for row in body["rows"]] == [
        start.isoformat(),
        (today() - timedelta(days=7)).isoformat(),
        end.isoformat(),
    ]
    assert [row["input_tokens"] for row in body["rows"]] == [10, 20, 40]
    assert body["rows"][-1]["requests"] == 2
    assert set(body["rows"][0]) == {"day", *COUNT_FIELDS}
    assert_totals_are_row_sums(body)


async def test_defaults_cover_the_last_30_days(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    for offset in (0, 29, 30):
        await add_usage(app, user_id=user.id, day=today() - timedelta(days=offset), model_id=model)
    body = await get_usage(client, user.headers, group_by="day")
    assert [row["day"] for row in body["rows"]] == [
        (today() - timedelta(days=29)).isoformat(),
        today().isoformat(),
    ]
    only_end = today() - timedelta(days=1)
    body = await get_usage(client, user.headers, end=only_end.isoformat())
    assert body["start"] == (only_end - timedelta(days=29)).isoformat()
    assert body["totals"]["requests"] == 2


async def test_group_by_model_names_and_order(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    small = await make_model(app, "small-model")
    large = await make_model(app, "large-model")
    gone = await make_model(app)
    await record_call(app, user_id=user.id, model_id=small, input_tokens=1, output_tokens=1)
    await record_call(app, user_id=user.id, model_id=large, input_tokens=100, output_tokens=50)
    await record_call(app, user_id=user.id, model_id=large, input_tokens=1, output_tokens=1)
    await record_call(app, user_id=user.id, model_id=gone, input_tokens=10, output_tokens=10)
    await delete_model(app, gone)
    body = await get_usage(client, user.headers, group_by="model")
    assert [(row["model_id"], row["model"], row["total_tokens"]) for row in body["rows"]] == [
        (str(large), "large-model", 152),
        (str(gone), None, 20),
        (str(small), "small-model", 2),
    ]
    assert body["rows"][0]["requests"] == 2
    assert_totals_are_row_sums(body)


async def test_group_by_api_key_and_source(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    key = await make_key(client, user, name="=HYPERLINK(1)")
    await record_call(app, user_id=user.id, model_id=model, key_id=key["id"], input_tokens=50)
    await record_call(app, user_id=user.id, model_id=model, source=UsageSource.API)
    await record_call(app, user_id=user.id, model_id=model, source=UsageSource.FINE_TUNING)
    body = await get_usage(client, user.headers, group_by="api_key")
    assert [(row["api_key_id"], row["api_key_name"]) for row in body["rows"]] == [
        (key["id"], "=HYPERLINK(1)"),
        (None, None),
    ]
    assert body["rows"][1]["requests"] == 2
    assert_totals_are_row_sums(body)
    body = await get_usage(client, user.headers, group_by="source")
    assert {row["source"]: row["requests"] for row in body["rows"]} == {
        "chat": 1,
        "api": 1,
        "fine_tuning": 1,
    }
    assert body["rows"][0]["source"] == "chat"
    assert_totals_are_row_sums(body)


async def test_revoked_key_keeps_its_usage_without_a_name(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_account(client)
    model = await make_model(app)
    key = await make_key(client, user)
    await record_call(app, user_id=user.id, model_id=model, key_id=key["id"])
    revoked = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=user.headers)
    assert revoked.status_code == 204
    body = await get_usage(client, user.headers, group_by="api_key")
    assert [(row["api_key_id"], row["api_key_name"]) for row in body["rows"]] == [(key["id"], None)]


async def test_filters(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    first, second = await make_model(app), await make_model(app)
    key = await make_key(client, user)
    await record_call(app, user_id=user.id, model_id=first, key_id=key["id"], input_tokens=1)
    await record_call(app, user_id=user.id, model_id=second, input_tokens=2)
    await record_call(app, user_id=user.id, model_id=second, input_tokens=4, source=UsageSource.API)
    headers = user.headers
    assert (await get_usage(client, headers, model_id=str(first)))["totals"]["input_tokens"] == 1
    assert (await get_usage(client, headers, api_key_id=key["id"]))["totals"]["input_tokens"] == 1
    assert (await get_usage(client, headers, source="api"))["totals"]["input_tokens"] == 4
    combined = await get_usage(client, headers, model_id=str(second), source="chat")
    assert combined["totals"]["input_tokens"] == 2


async def test_users_never_see_each_others_usage(app: FastAPI, client: httpx.AsyncClient) -> None:
    alice = await make_account(client)
    bob = await make_account(client)
    model = await make_model(app)
    key = await make_key(client, alice)
    await record_call(app, user_id=alice.id, model_id=model, key_id=key["id"], input_tokens=99)
    for group_by in ("day", "model", "api_key", "source"):
        body = await get_usage(client, bob.headers, group_by=group_by)
        assert body["rows"] == []
        assert body["totals"]["requests"] == 0
    body = await get_usage(client, bob.headers, api_key_id=key["id"], group_by="api_key")
    assert body["rows"] == []
    assert body["totals"]["requests"] == 0
    assert (await get_usage(client, alice.headers))["totals"]["input_tokens"] == 99


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "user"}, "group_by"),
        ({"group_by": "week"}, "group_by"),
        ({"start": "2026-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"start": "2026-02-02", "end": "2026-02-01"}, "start"),
        ({"start": "2010-01-01", "end": "2020-01-10"}, "start"),
        ({"source": "email"}, "source"),
        ({"model_id": "not-a-uuid"}, "model_id"),
    ],
)
async def test_invalid_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    user = await make_account(client)
    for url in (USAGE, f"{USAGE}/export.csv"):
        body = assert_problem(
            await client.get(url, params=params, headers=user.headers), 422, "validation_error"
        )
        assert [error["loc"] for error in body["errors"]] == [["query", field]]
        assert all(error["msg"] for error in body["errors"])


async def test_longest_span_is_allowed(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    start = today() - timedelta(days=3659)
    body = await get_usage(client, user.headers, start=start.isoformat())
    assert body["start"] == start.isoformat()
    assert (
        await client.get(
            USAGE,
            params={"start": (start - timedelta(days=1)).isoformat()},
            headers=user.headers,
        )
    ).status_code == 422


async def test_single_day_span(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    day = today() - timedelta(days=3)
    await add_usage(app, user_id=user.id, day=day, model_id=model)
    body = await get_usage(client, user.headers, start=day.isoformat(), end=day.isoformat())
    assert body["totals"]["requests"] == 1


async def test_needs_authentication(client: httpx.AsyncClient) -> None:
    for url in (USAGE, f"{USAGE}/export.csv", f"{USAGE}/quota"):
        assert_problem(await client.get(url), 401, "invalid_token")
        assert_problem(await client.get(url, params={"group_by": "week"}), 401, "invalid_token")


async def test_read_key_reads_its_owners_usage(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    await record_call(app, user_id=user.id, model_id=model, input_tokens=3)
    key = (await make_key(client, user, scopes=["read"]))["key"]
    body = await get_usage(client, bearer(key))
    assert body["totals"]["input_tokens"] == 3
    response = await client.get(f"{USAGE}/export.csv", headers=bearer(key))
    assert response.status_code == 200


async def test_inference_key_may_not_read_usage(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    key = (await make_key(client, user, scopes=["inference"]))["key"]
    for url in (USAGE, f"{USAGE}/export.csv", f"{USAGE}/quota"):
        assert_problem(await client.get(url, headers=bearer(key)), 403, "insufficient_scope")


async def test_statements_do_not_grow_with_days(app: FastAPI, client: httpx.AsyncClient) -> None:
    few = await make_account(client)
    many = await make_account(client)
    model = await make_model(app)
    start = today() - timedelta(days=399)
    await add_usage(app, user_id=few.id, day=today(), model_id=model)
    days = [start + timedelta(days=offset) for offset in range(400)]
    await add_usage_days(app, user_id=many.id, model_id=model, days=days)
    params = {"group_by": "day", "start": start.isoformat()}
    with count_statements(app) as one_day:
        body = await get_usage(client, few.headers, **params)
    assert len(body["rows"]) == 1
    with count_statements(app) as four_hundred:
        body = await get_usage(client, many.headers, **params)
    assert len(body["rows"]) == 400
    assert body["totals"]["requests"] == 400
    assert len(four_hundred) == len(one_day)
    assert not any("usage_event" in statement for statement in four_hundred)
