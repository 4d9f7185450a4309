"""Timestamps come back aware and in UTC; SQLite connections are tuned as the app expects."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi import FastAPI
from sqlalchemy import create_mock_engine, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from colloquy.accounts.models import User
from colloquy.core.database import UTCDateTime, new_id, transaction, utcnow
from colloquy.core.settings import Settings

BERLIN_SUMMER = timezone(timedelta(hours=2))


def _user(**values: object) -> User:
    return User(
        name="Ann",
        email=f"{new_id().hex}@example.com",
        email_normalized=f"{new_id().hex}@example.com",
        password_hash="x",
        **values,
    )


async def _reload(app: FastAPI, user: User) -> User:
    async with transaction(app.state.database, write=False) as session:
        loaded = await session.scalar(select(User).where(User.id == user.id))
    assert loaded is not None
    return loaded


async def test_aware_datetime_round_trips_as_utc(app: FastAPI) -> None:
    moment = datetime(2024, 7, 1, 14, 30, 15, 123456, tzinfo=BERLIN_SUMMER)
    user = _user(last_login_at=moment)
    async with transaction(app.state.database) as session:
        session.add(user)

    loaded = await _reload(app, user)
    assert loaded.last_login_at is not None
    assert loaded.last_login_at.utcoffset() == timedelta(0)
    assert loaded.last_login_at.tzinfo is UTC
    assert loaded.last_login_at == moment
    assert loaded.last_login_at.hour == 12
    assert loaded.created_at.tzinfo is UTC
    assert abs(loaded.created_at - utcnow()) < timedelta(minutes=1)


async def test_timestamps_compare_in_queries_across_offsets(app: FastAPI) -> None:
    moment = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    user = _user(last_login_at=moment)
    async with transaction(app.state.database) as session:
        session.add(user)

    async with transaction(app.state.database, write=False) as session:
        later_in_utc = moment.astimezone(BERLIN_SUMMER) + timedelta(seconds=1)
        found = await session.scalar(
            select(User.id).where(User.id == user.id, User.last_login_at < later_in_utc)
        )
        missed = await session.scalar(
            select(User.id).where(User.id == user.id, User.last_login_at > later_in_utc)
        )
    assert found == user.id
    assert missed is None


async def test_null_timestamp_stays_null(app: FastAPI) -> None:
    user = _user()
    async with transaction(app.state.database) as session:
        session.add(user)
    assert (await _reload(app, user)).last_login_at is None


async def test_naive_datetime_is_refused(app: FastAPI) -> None:
    naive = datetime(2024, 1, 1, 12, 0)  # noqa: DTZ001 - the value under test
    with pytest.raises(StatementError, match="naive datetimes are not stored"):
        async with transaction(app.state.database) as session:
            session.add(_user(last_login_at=naive))


def test_result_values_are_made_aware() -> None:
    column = UTCDateTime()
    dialect = _dialect("sqlite")
    naive = datetime(2024, 1, 1, 12, 0)  # noqa: DTZ001 - as SQLite returns it
    assert column.process_result_value(naive, dialect) == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    offset = datetime(2024, 1, 1, 14, 0, tzinfo=BERLIN_SUMMER)
    converted = column.process_result_value(offset, _dialect("postgresql"))
    assert converted is not None
    assert converted.tzinfo is UTC
    assert converted.hour == 12
    assert column.process_result_value(None, dialect) is None


def _dialect(name: str) -> Dialect:
    return create_mock_engine(f"{name}://", executor=None).dialect


def _sqlite_only(settings: Settings) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite connection settings")


async def _pragma(engine: AsyncEngine, name: str) -> object:
    async with engine.connect() as connection:
        return (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()


async def test_sqlite_pragmas_are_set_on_every_connection(app: FastAPI, settings: Settings) -> None:
    _sqlite_only(settings)
    engine = app.state.database.engine
    assert await _pragma(engine, "journal_mode") == "wal"
    assert await _pragma(engine, "foreign_keys") == 1
    assert await _pragma(engine, "busy_timeout") == int(settings.sqlite_busy_timeout * 1000)
    assert await _pragma(engine, "synchronous") == 1


async def test_sqlite_foreign_keys_cascade(app: FastAPI, settings: Settings) -> None:
    from colloquy.accounts.models import LoginSession

    _sqlite_only(settings)
    user = _user()
    async with transaction(app.state.database) as session:
        session.add(user)
        await session.flush()
        session.add(LoginSession(user_id=user.id, expires_at=utcnow() + timedelta(days=1)))
    async with transaction(app.state.database) as session:
        await session.delete(await session.get_one(User, user.id))
    async with transaction(app.state.database, write=False) as session:
        remaining = await session.scalar(
            select(LoginSession.id).where(LoginSession.user_id == user.id)
        )
    assert remaining is None
