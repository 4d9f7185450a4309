"""Apps built inside a test, for tests that need more than one or settings of their own."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete

from colloquy.app import create_app
from colloquy.core.database import Database, create_engine
from colloquy.core.settings import Settings
from colloquy.models import Base

PEER = ("127.0.0.1", 50000)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=PEER)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def empty_tables(settings: Settings, database_url: str | None = None) -> None:
    database = Database(create_engine(settings, database_url))
    try:
        async with database.write_sessions() as session, session.begin():
            for table in reversed(Base.metadata.sorted_tables):
                await session.execute(delete(table))
    finally:
        await database.dispose()


@asynccontextmanager
async def running_app(
    settings: Settings, *, cleanup_url: str | None = None, keep_rows: bool = False
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A started app and a client for it; the tables are emptied when it stops.

    `cleanup_url` reaches the same database when the app's own URL may not (a stopped proxy);
    `keep_rows` leaves the rows for an app started next, which must then empty the tables.
    """
    app = create_app(settings)
    try:
        async with LifespanManager(app), client_for(app) as client:
            yield app, client
    finally:
        if not keep_rows:
            await empty_tables(settings, cleanup_url)
