"""The database: engine per URL, SQLite tuning, the declarative base and the request session."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Enum, ForeignKey, MetaData, event, make_url
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from uuid6 import uuid7

from colloquy.core.errors import AppError
from colloquy.core.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Connections from the write engine start with BEGIN IMMEDIATE on SQLite, so a
# transaction that reads and then writes waits for the lock instead of failing.
WRITE_OPTION = "colloquy_write"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid7().bytes)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def str_enum(enum: type[StrEnum]) -> Enum:
    """A column for a StrEnum: stored as its values in a VARCHAR, read back as members."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=max(len(member.value) for member in enum),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def owner_column() -> Mapped[uuid.UUID]:
    """The owning user; the row goes when the user does."""
    return mapped_column(ForeignKey("user.id", ondelete="CASCADE"))


def async_url(url: str) -> URL:
    """Turn a plain database URL into one naming the async driver the app uses."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in {"postgresql", "postgres"}:
        query = dict(parsed.query)
        sslmode = query.pop("sslmode", None)
        if sslmode is not None:
            query["ssl"] = sslmode
        return parsed.set(drivername="postgresql+asyncpg", query=query)
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database URL scheme: {parsed.drivername!r}")


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    target = async_url(url or settings.database_url)
    if target.get_backend_name() == "sqlite":
        return _sqlite_engine(target, settings)
    return create_async_engine(
        target,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "timeout": settings.db_connect_timeout,
            "command_timeout": settings.db_statement_timeout,
            "server_settings": {
                "statement_timeout": str(int(settings.db_statement_timeout * 1000)),
                "application_name": "colloquy",
            },
        },
    )


def _sqlite_engine(target: URL, settings: Settings) -> AsyncEngine:
    database = target.database
    in_memory = not database or database == ":memory:"
    if database and not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        target,
        connect_args={"timeout": settings.sqlite_busy_timeout},
        poolclass=NullPool if in_memory else None,
    )
    busy_ms = int(settings.sqlite_busy_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


class Database:
    """The engine and two session factories: reads and writes (the latter locks early on SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.read_sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.write_sessions = async_sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def transaction(database: Database, *, write: bool = True) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the body succeeds, roll back when it raises."""
    factory = database.write_sessions if write else database.read_sessions
    async with factory() as session:
        try:
            yield session
        except BaseException as exc:
            if isinstance(exc, AppError) and exc.keeps_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        else:
            await session.commit()
