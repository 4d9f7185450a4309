"""Alembic environment: runs migrations on the app's own async engine for the configured URL."""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from colloquy.core.database import create_engine
from colloquy.core.settings import Settings
from colloquy.models import Base

config = context.config
target_metadata = Base.metadata


def _include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """SAQ keeps its own tables (saq_*) in the database when it queues jobs there."""
    return not (type_ == "table" and name is not None and name.startswith("saq_"))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run() -> None:
    settings = Settings()
    url = config.get_main_option("sqlalchemy.url") or settings.database_url
    engine = create_engine(settings, url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    settings = Settings()
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or settings.database_url,
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    asyncio.run(_run())
