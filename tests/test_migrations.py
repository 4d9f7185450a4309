"""The schema comes only from migrations: no drift from the models, and every step reverses."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.util.exc import CommandError

from colloquy.core import migrations
from tests.conftest import drop_postgres_database, fresh_postgres_database


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same backend as the run's."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url, name = fresh_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(name)


def test_models_and_migrations_agree(database_url: str) -> None:
    migrations.check(database_url)


def test_check_notices_a_database_behind_the_models(empty_database: str) -> None:
    with pytest.raises(CommandError):
        migrations.check(empty_database)


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    migrations.upgrade(empty_database)
    migrations.downgrade(empty_database, "base")
    migrations.upgrade(empty_database)
    migrations.check(empty_database)
