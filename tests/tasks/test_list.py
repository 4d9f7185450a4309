"""The task list: filters, sort orders, pages, and the cost of its most common query."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, insert, text

from colloquy.core.database import new_id, transaction
from colloquy.tasks.models import Task, TaskPriority, TaskStatus
from tests.support import Account, assert_problem, make_account
from tests.tasks.support import TASKS, list_tasks, make_project, make_task, task_url, titles


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await make_account(client)


async def test_default_order_is_newest_first(client: httpx.AsyncClient, account: Account) -> None:
    for title in ("first", "second", "third"):
        await make_task(client, account, title=title)

    page = await list_tasks(client, account)

    assert titles(page) == ["third", "second", "first"]
    assert titles(await list_tasks(client, account, sort="created_at")) == [
        "first",
        "second",
        "third",
    ]


async def test_filter_by_one_or_several_statuses(
    client: httpx.AsyncClient, account: Account
) -> None:
    for status in ("pending", "in_progress", "completed"):
        await make_task(client, account, title=status, status=status)

    pending = await list_tasks(client, account, status="pending")
    open_tasks = await list_tasks(client, account, status=["pending", "in_progress"])

    assert titles(pending) == ["pending"]
    assert pending["total"] == 1
    assert sorted(titles(open_tasks)) == ["in_progress", "pending"]
    assert open_tasks["total"] == 2


async def test_filter_by_priority(client: httpx.AsyncClient, account: Account) -> None:
    for priority in ("low", "medium", "high"):
        await make_task(client, account, title=priority, priority=priority)

    assert titles(await list_tasks(client, account, priority="high")) == ["high"]
    assert sorted(titles(await list_tasks(client, account, priority=["low", "high"]))) == [
        "high",
        "low",
    ]


async def test_filter_by_project(client: httpx.AsyncClient, account: Account) -> None:
    project = await make_project(client, account)
    await make_task(client, account, title="inside", project_id=project["id"])
    await make_task(client, account, title="outside")

    page = await list_tasks(client, account, project_id=project["id"])

    assert titles(page) == ["inside"]


async def test_filter_by_unknown_project_is_404(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.get(
        TASKS, params={"project_id": str(uuid.uuid4())}, headers=account.headers
    )

    assert_problem(response, 404, "project_not_found")


async def test_filter_by_due_window(client: httpx.AsyncClient, account: Account) -> None:
    await make_task(client, account, title="january", due_at="2030-01-01T00:00:00Z")
    await make_task(client, account, title="june", due_at="2030-06-01T00:00:00+02:00")
    await make_task(client, account, title="next year", due_at="2031-01-01T00:00:00Z")
    await make_task(client, account, title="undated")

    after = await list_tasks(client, account, due_after="2030-03-01T00:00:00Z", sort="due_at")
    before = await list_tasks(
        client, account, due_before="2030-12-31T00:00:00+00:00", sort="due_at"
    )
    window = await list_tasks(
        client,
        account,
        due_after="2030-01-01T00:00:00Z",
        due_before="2031-01-01T00:00:00Z",
    )

    assert titles(after) == ["june", "next year"]
    assert titles(before) == ["january", "june"]
    assert titles(window) == ["june"]


async def test_search_matches_title_or_description_ignoring_case(
    client: httpx.AsyncClient, account: Account
) -> None:
    await make_task(client, account, title="Fix the Printer")
    await make_task(client, account, title="Call IT", description="the PRINTER is jammed")
    await make_task(client, account, title="Water plants")

    page = await list_tasks(client, account, q="printer", sort="created_at")

    assert titles(page) == ["Fix the Printer", "Call IT"]
    assert page["total"] == 2


@pytest.mark.parametrize(
    ("q", "expected"), [("0%", ["100% done"]), ("e_c", ["snake_case"]), ("\\", ["back\\slash"])]
)
async def test_search_takes_wildcards_literally(
    client: httpx.AsyncClient, account: Account, q: str, expected: list[str]
) -> None:
    for title in ("100% done", "1000 done", "snake_case", "snakeXcase", "back\\slash"):
        await make_task(client, account, title=title)

    assert titles(await list_tasks(client, account, q=q)) == expected


async def test_filters_combine_with_deleted(client: httpx.AsyncClient, account: Account) -> None:
    for title, status in (("a", "pending"), ("b", "completed"), ("c", "pending")):
        task = await make_task(client, account, title=title, status=status)
        if title != "c":
            await client.delete(task_url(task["id"]), headers=account.headers)

    page = await list_tasks(client, account, deleted="true", status="pending")

    assert titles(page) == ["a"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("priority", ["low", "medium", "high"]),
        ("-priority", ["high", "medium", "low"]),
    ],
)
async def test_sort_by_priority_follows_its_meaning(
    client: httpx.AsyncClient, account: Account, sort: str, expected: list[str]
) -> None:
    for priority in ("medium", "high", "low"):
        await make_task(client, account, title=priority, priority=priority)

    assert titles(await list_tasks(client, account, sort=sort)) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("status", ["pending", "in_progress", "completed"]),
        ("-status", ["completed", "in_progress", "pending"]),
    ],
)
async def test_sort_by_status_follows_the_workflow(
    client: httpx.AsyncClient, account: Account, sort: str, expected: list[str]
) -> None:
    for status in ("completed", "pending", "in_progress"):
        await make_task(client, account, title=status, status=status)

    assert titles(await list_tasks(client, account, sort=sort)) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("due_at", ["first", "second", "third", "undated"]),
        ("-due_at", ["third", "second", "first", "undated"]),
    ],
)
async def test_sort_by_due_date_puts_undated_tasks_last(
    client: httpx.AsyncClient, account: Account, sort: str, expected: list[str]
) -> None:
    await make_task(client, account, title="second", due_at="2030-01-02T00:00:00Z")
    await make_task(client, account, title="undated")
    await make_task(client, account, title="third", due_at="2030-01-03T00:00:00Z")
    await make_task(client, account, title="first", due_at="2030-01-01T00:00:00Z")

    assert titles(await list_tasks(client, account, sort=sort)) == expected


async def test_equal_sort_keys_keep_a_stable_order(
    client: httpx.AsyncClient, account: Account
) -> None:
    for title in ("one", "two", "three"):
        await make_task(client, account, title=title, priority="high")

    assert titles(await list_tasks(client, account, sort="priority")) == ["one", "two", "three"]
    assert titles(await list_tasks(client, account, sort="-priority")) == ["three", "two", "one"]


async def test_pages_cover_the_list_once(client: httpx.AsyncClient, account: Account) -> None:
    for number in range(5):
        await make_task(client, account, title=f"task {number}")

    pages = [await list_tasks(client, account, limit=2, offset=offset) for offset in (0, 2, 4)]
    beyond = await list_tasks(client, account, limit=2, offset=10)

    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert [title for page in pages for title in titles(page)] == [
        f"task {number}" for number in reversed(range(5))
    ]
    assert {(page["total"], page["limit"]) for page in pages} == {(5, 2)}
    assert [page["offset"] for page in pages] == [0, 2, 4]
    assert beyond["items"] == []
    assert beyond["total"] == 5


async def test_total_counts_every_match_not_the_page(
    client: httpx.AsyncClient, account: Account
) -> None:
    for status in ("pending", "pending", "pending", "completed"):
        await make_task(client, account, status=status)

    page = await list_tasks(client, account, status="pending", limit=1)

    assert len(page["items"]) == 1
    assert page["total"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"status": ["pending", "done"]},
        {"priority": "urgent"},
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"project_id": "not-a-uuid"},
        {"due_before": "2030-01-01T00:00:00"},
        {"due_after": "soon"},
        {"deleted": "perhaps"},
        {"q": "x" * 201},
    ],
)
async def test_invalid_query_parameters_are_422(
    client: httpx.AsyncClient, account: Account, params: dict[str, Any]
) -> None:
    response = await client.get(TASKS, params=params, headers=account.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"]


@pytest.mark.parametrize("sort", ["title", "-owner_id", "--created_at", "deleted_at"])
async def test_unknown_sort_key_is_422(
    client: httpx.AsyncClient, account: Account, sort: str
) -> None:
    response = await client.get(TASKS, params={"sort": sort}, headers=account.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["query", "sort"]


@contextmanager
def recorded_statements(app: FastAPI) -> Iterator[list[tuple[str, Any]]]:
    """The SQL the app sends while the block runs."""
    statements: list[tuple[str, Any]] = []
    engine = app.state.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def seed_tasks(app: FastAPI, owner_id: str, count: int) -> None:
    """`count` tasks, a third in each status, inserted in one statement."""
    start = datetime(2030, 1, 1, tzinfo=UTC)
    statuses = list(TaskStatus)
    rows = [
        {
            "id": new_id(),
            "owner_id": uuid.UUID(owner_id),
            "title": f"task {number}",
            "description": "",
            "status": statuses[number % 3],
            "priority": TaskPriority.MEDIUM,
            "created_at": start + timedelta(seconds=number),
            "updated_at": start + timedelta(seconds=number),
        }
        for number in range(count)
    ]
    async with transaction(app.state.database) as session:
        await session.execute(insert(Task), rows)
        if app.state.database.dialect == "postgresql":
            await session.execute(text("ANALYZE task"))


async def query_plan(app: FastAPI, statement: str, parameters: Any) -> str:
    explain = "EXPLAIN QUERY PLAN " if app.state.database.dialect == "sqlite" else "EXPLAIN "
    async with app.state.database.engine.connect() as connection:
        result = await connection.exec_driver_sql(explain + statement, parameters)
        return "\n".join(" ".join(str(value) for value in row) for row in result)


async def test_pending_page_uses_the_status_index_and_a_fixed_number_of_queries(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    busy = await make_account(client)
    quiet = await make_account(client)
    await seed_tasks(app, busy.id, 10_000)
    await make_task(client, quiet, title="only one")
    params = {"status": "pending", "limit": 20}

    with recorded_statements(app) as busy_statements:
        busy_page = await list_tasks(client, busy, **params)
    with recorded_statements(app) as quiet_statements:
        await list_tasks(client, quiet, **params)

    assert len(busy_page["items"]) == 20
    assert busy_page["total"] == 3334
    assert busy_page["items"][0]["title"] == "task 9999"
    assert len(busy_statements) == len(quiet_statements)
    page_queries = [
        (statement, parameters)
        for statement, parameters in busy_statements
        if "FROM task" in statement and "LIMIT" in statement
    ]
    assert len(page_queries) == 1
    plan = await query_plan(app, *page_queries[0])
    assert "ix_task_owner_id_status_created_at" in plan, plan
