"""The `colloquy` command: schema management, creating an administrator, refusing bad config."""

from pathlib import Path

import anyio
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from colloquy.accounts.models import User
from colloquy.cli import app
from colloquy.core.database import Database, create_engine
from tests.conftest import TEST_SECRET, empty_tables, make_settings

runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COLLOQUY_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("COLLOQUY_ARGON2_MEMORY_COST", "1024")
    monkeypatch.setenv("COLLOQUY_ARGON2_TIME_COST", "1")
    monkeypatch.delenv("COLLOQUY_ENV", raising=False)
    return tmp_path


async def _admin_flags(database_url: str, email: str) -> tuple[bool, bool] | None:
    database = Database(create_engine(make_settings(database_url, Path("var"))))
    try:
        async with database.read_sessions() as session:
            user = (await session.scalars(select(User).where(User.email == email))).first()
            return None if user is None else (user.is_admin, user.is_active)
    finally:
        await database.dispose()


def test_create_admin_takes_the_password_from_the_environment(
    cli_env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLOQUY_ADMIN_PASSWORD", "a long enough password")
    try:
        result = runner.invoke(
            app, ["users", "create-admin", "--email", "root@example.com", "--name", "Root"]
        )
        assert result.exit_code == 0, result.output
        assert "root@example.com" in result.output
        assert anyio.run(_admin_flags, database_url, "root@example.com") == (True, True)

        again = runner.invoke(app, ["users", "create-admin", "--email", "ROOT@example.com"])
        assert again.exit_code == 1
    finally:
        anyio.run(empty_tables, database_url)


def test_create_admin_prompts_for_the_password(cli_env: Path, database_url: str) -> None:
    try:
        result = runner.invoke(
            app,
            ["users", "create-admin", "--email", "prompted@example.com"],
            input="a long enough password\na long enough password\n",
        )
        assert result.exit_code == 0, result.output
        assert anyio.run(_admin_flags, database_url, "prompted@example.com") == (True, True)
    finally:
        anyio.run(empty_tables, database_url)


def test_create_admin_rejects_a_short_password(
    cli_env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLOQUY_ADMIN_PASSWORD", "short")
    result = runner.invoke(app, ["users", "create-admin", "--email", "weak@example.com"])
    assert result.exit_code == 1
    assert "password" in result.output
    assert anyio.run(_admin_flags, database_url, "weak@example.com") is None


def test_db_current_names_the_head_revision(cli_env: Path) -> None:
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0, result.output
    assert "(head)" in result.output


def test_production_refuses_the_missing_secret(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLOQUY_ENV", "production")
    monkeypatch.delenv("COLLOQUY_SECRET_KEY")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "COLLOQUY_SECRET_KEY" in result.output


def test_worker_needs_a_queue(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLLOQUY_QUEUE_URL", raising=False)
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "COLLOQUY_QUEUE_URL" in result.output
