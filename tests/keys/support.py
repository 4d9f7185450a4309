"""Helpers the keys tests share: keys made through the API, and their rows changed in SQL."""

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from colloquy.core.database import transaction
from colloquy.keys.models import ApiKey
from tests.support import Account

KEYS = "/api/v1/api-keys"
ALL_SCOPES = ["inference", "read", "write"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def make_key(
    client: httpx.AsyncClient, owner: Account, *, scopes: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    body = {"name": "CI", "scopes": scopes or ["read", "write"], **fields}
    response = await client.post(KEYS, json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    key: dict[str, Any] = response.json()
    return key


async def set_key_fields(app: FastAPI, key_id: str, **values: Any) -> None:
    async with transaction(app.state.database) as session:
        await session.execute(update(ApiKey).where(ApiKey.id == uuid.UUID(key_id)).values(**values))


async def load_key(app: FastAPI, key_id: str) -> ApiKey:
    async with transaction(app.state.database, write=False) as session:
        return (await session.scalars(select(ApiKey).where(ApiKey.id == uuid.UUID(key_id)))).one()
