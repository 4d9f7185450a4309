"""Helpers the tasks tests share: tasks and projects made through the API; timestamps set in SQL."""

import uuid
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from colloquy.core.database import transaction
from colloquy.tasks.models import Task
from tests.support import Account

TASKS = "/api/v1/tasks"
PROJECTS = "/api/v1/projects"


def task_url(task_id: str, action: str = "") -> str:
    return f"{TASKS}/{task_id}" + (f"/{action}" if action else "")


async def make_task(client: httpx.AsyncClient, account: Account, **fields: Any) -> dict[str, Any]:
    fields.setdefault("title", "Write the report")
    response = await client.post(TASKS, json=fields, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_project(
    client: httpx.AsyncClient, account: Account, *, name: str = "Project"
) -> dict[str, Any]:
    response = await client.post(PROJECTS, json={"name": name}, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_tasks(client: httpx.AsyncClient, account: Account, **params: Any) -> dict[str, Any]:
    response = await client.get(TASKS, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def titles(page: dict[str, Any]) -> list[str]:
    return [item["title"] for item in page["items"]]


async def set_task_times(app: FastAPI, task_id: str, **times: datetime | None) -> None:
    """Move a task's timestamps (created_at, deleted_at, ...) where the API cannot."""
    async with transaction(app.state.database) as session:
        await session.execute(update(Task).where(Task.id == uuid.UUID(task_id)).values(**times))


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed
