"""GET /usage/export.csv: the same report as CSV, safe to open in a spreadsheet."""

import csv
import io
from datetime import timedelta

import httpx
from fastapi import FastAPI

from colloquy.usage.models import UsageSource
from tests.keys.support import make_key
from tests.support import make_account
from tests.usage.support import USAGE, add_usage, make_model, record_call, today

EXPORT = f"{USAGE}/export.csv"
COUNTS = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
]


def read_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))


async def test_by_day_by_default(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app)
    start, end = today() - timedelta(days=6), today() - timedelta(days=2)
    for offset, tokens in ((7, 1), (6, 2), (4, 3), (2, 4), (1, 5)):
        await add_usage(
            app,
            user_id=user.id,
            day=today() - timedelta(days=offset),
            model_id=model,
            input_tokens=tokens,
            output_tokens=10,
            cached_tokens=1,
        )
    response = await client.get(
        EXPORT, params={"start": start.isoformat(), "end": end.isoformat()}, headers=user.headers
    )
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="usage-{start.isoformat()}-{end.isoformat()}.csv"'
    )
    assert response.text.endswith("\r\n")
    assert read_csv(response) == [
        ["day", *COUNTS],
        [start.isoformat(), "1", "2", "10", "1", "0", "12"],
        [(today() - timedelta(days=4)).isoformat(), "1", "3", "10", "1", "0", "13"],
        [end.isoformat(), "1", "4", "10", "1", "0", "14"],
    ]


async def test_empty_report_has_only_the_header(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    response = await client.get(EXPORT, params={"group_by": "source"}, headers=user.headers)
    assert read_csv(response) == [["source", *COUNTS]]


async def test_group_columns_come_first(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    model = await make_model(app, "csv-model")
    key = await make_key(client, user, name="Deploy")
    await record_call(app, user_id=user.id, model_id=model, key_id=key["id"], input_tokens=40)
    await record_call(app, user_id=user.id, model_id=model, source=UsageSource.API)
    rows = read_csv(await client.get(EXPORT, params={"group_by": "model"}, headers=user.headers))
    assert rows == [
        ["model_id", "model", *COUNTS],
        [str(model), "csv-model", "2", "50", "10", "0", "0", "60"],
    ]
    rows = read_csv(await client.get(EXPORT, params={"group_by": "api_key"}, headers=user.headers))
    assert rows == [
        ["api_key_id", "api_key_name", *COUNTS],
        [key["id"], "Deploy", "1", "40", "5", "0", "0", "45"],
        ["", "", "1", "10", "5", "0", "0", "15"],
    ]
    rows = read_csv(
        await client.get(
            EXPORT, params={"group_by": "source", "source": "api"}, headers=user.headers
        )
    )
    assert rows == [["source", *COUNTS], ["api", "1", "10", "5", "0", "0", "15"]]


async def test_formulas_in_names_are_defused(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    names = ["=1+2", "+cmd", "-2", "@SUM(A1)"]
    for name in names:
        model = await make_model(app, f"{name} model")
        key = await make_key(client, user, name=name)
        await record_call(app, user_id=user.id, model_id=model, key_id=key["id"])
    by_key = read_csv(
        await client.get(EXPORT, params={"group_by": "api_key"}, headers=user.headers)
    )
    assert sorted(row[1] for row in by_key[1:]) == sorted(f"'{name}" for name in names)
    by_model = read_csv(
        await client.get(EXPORT, params={"group_by": "model"}, headers=user.headers)
    )
    assert sorted(row[1] for row in by_model[1:]) == sorted(f"'{name} model" for name in names)
    report = await client.get(USAGE, params={"group_by": "api_key"}, headers=user.headers)
    assert sorted(row["api_key_name"] for row in report.json()["rows"]) == sorted(names)


async def test_export_is_the_callers_own(app: FastAPI, client: httpx.AsyncClient) -> None:
    alice = await make_account(client)
    bob = await make_account(client)
    model = await make_model(app)
    await record_call(app, user_id=alice.id, model_id=model)
    assert len(read_csv(await client.get(EXPORT, headers=alice.headers))) == 2
    assert read_csv(await client.get(EXPORT, headers=bob.headers)) == [["day", *COUNTS]]
