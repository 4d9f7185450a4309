"""Alembic environment: runs migrations on the app's own async engine for the configured URL."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from colloquy.core.database import create_engine
from colloquy.core.settings import Settings
from colloquy.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
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
