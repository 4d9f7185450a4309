"""Fixtures: each test runs once per database (SQLite always, PostgreSQL when configured)."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete, make_url

from colloquy.app import create_app
from colloquy.core import migrations
from colloquy.core.database import Database, create_engine
from colloquy.core.settings import Settings
from colloquy.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("COLLOQUY_REQUIRE_SERVICES") == "1"
BACKENDS = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])]
TEST_SECRET = "test-secret-" + "x" * 40


def pytest_configure(config: pytest.Config) -> None:
    missing = [
        name
        for name, url in (
            ("TEST_DATABASE_URL", TEST_DATABASE_URL),
            ("TEST_REDIS_URL", TEST_REDIS_URL),
        )
        if not url
    ]
    if REQUIRE_SERVICES and missing:
        raise pytest.UsageError(f"COLLOQUY_REQUIRE_SERVICES=1 but {', '.join(missing)} is not set")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    skipped = []
    if not TEST_DATABASE_URL:
        skipped.append("PostgreSQL (set TEST_DATABASE_URL)")
    if not TEST_REDIS_URL:
        skipped.append("Redis (set TEST_REDIS_URL)")
    if skipped:
        terminalreporter.write_line(
            f"service tests skipped: {'; '.join(skipped)}", yellow=True, bold=True
        )


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


async def _admin_execute(url: str, statement: str) -> None:
    target = make_url(url)
    connection = await asyncpg.connect(
        host=target.host,
        port=target.port or 5432,
        user=target.username,
        password=target.password,
        database=target.database,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def fresh_postgres_database() -> tuple[str, str]:
    """A new, empty database next to TEST_DATABASE_URL's; returns its URL and name."""
    assert TEST_DATABASE_URL
    name = f"colloquy_test_{uuid.uuid4().hex[:12]}"
    anyio.run(_admin_execute, TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
    url = make_url(TEST_DATABASE_URL).set(database=name)
    return url.render_as_string(hide_password=False), name


def drop_postgres_database(name: str) -> None:
    assert TEST_DATABASE_URL
    anyio.run(_admin_execute, TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database for the whole run, one per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'colloquy.db'}"
        migrations.upgrade(url)
        yield url
        return
    url, name = fresh_postgres_database()
    try:
        migrations.upgrade(url)
        yield url
    finally:
        drop_postgres_database(name)


def make_settings(database_url: str, var_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": None,
        "var_dir": var_dir,
        "secret_key": TEST_SECRET,
        "argon2_time_cost": 1,
        "argon2_memory_cost": 1024,
        "argon2_parallelism": 1,
        "login_rate_limit": "1000/minute",
        "register_rate_limit": "1000/minute",
        "log_json": True,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change the app's settings."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(database_url, tmp_path / "var", **settings_overrides)


async def empty_tables(database_url: str) -> None:
    database = Database(create_engine(make_settings(database_url, Path("var")), database_url))
    try:
        async with database.write_sessions() as session, session.begin():
            for table in reversed(Base.metadata.sorted_tables):
                await session.execute(delete(table))
    finally:
        await database.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    try:
        async with LifespanManager(application):
            yield application
    finally:
        await empty_tables(settings.database_url)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
