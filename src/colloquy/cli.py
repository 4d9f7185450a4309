"""The `colloquy` command: serve the API, run job workers, manage the database schema, create
administrators."""

import os
import shutil
from pathlib import Path
from typing import Annotated

import anyio
import typer
import uvicorn

from colloquy.chats.ws import MAX_FRAME_BYTES
from colloquy.core import migrations
from colloquy.core.settings import ConfigError, Settings

app = typer.Typer(help="Colloquy: a self-hostable backend for AI chat and agent applications.")
db_app = typer.Typer(help="Manage the database schema (Alembic migrations).")
users_app = typer.Typer(help="Manage users.")
maintenance_app = typer.Typer(help="Housekeeping the server also runs periodically.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(maintenance_app, name="maintenance")


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.check()
    except (ConfigError, ValueError) as exc:
        typer.echo(f"colloquy: configuration error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    return settings


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (COLLOQUY_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (COLLOQUY_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API."""
    settings = _settings()
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_fresh_metrics_dir(settings))
    uvicorn.run(
        "colloquy.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        access_log=False,
        # Our own check answers frames over the limit with 1009; this bounds what is read.
        ws_max_size=2 * MAX_FRAME_BYTES,
        proxy_headers=False,
        log_config=None,
    )


@app.command()
def worker() -> None:
    """Run fine-tuning jobs from the queue at COLLOQUY_QUEUE_URL; start one on each machine that
    trains. SIGTERM or Ctrl-C hands running jobs back to the queue, to resume elsewhere."""
    settings = _settings()
    if settings.queue_url is None:
        typer.echo(
            "colloquy: configuration error: COLLOQUY_QUEUE_URL is not set; without it the API "
            "runs fine-tuning jobs itself and no worker is needed",
            err=True,
        )
        raise typer.Exit(code=2)
    from colloquy.core.logging import configure_logging
    from colloquy.fine_tuning.distributed import run_worker

    configure_logging(level=settings.log_level, json=settings.log_json)
    anyio.run(run_worker, settings)


def _fresh_metrics_dir(settings: Settings) -> Path:
    """Worker processes share their metrics through files, which must not outlive the run."""
    path = settings.var_dir / "prometheus"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path.resolve()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    url = _settings().database_url
    migrations.upgrade(url, revision)
    migrations.current(url)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Revert migrations down to REVISION (default: one step)."""
    migrations.downgrade(_settings().database_url, revision)


@db_app.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    migrations.current(_settings().database_url)


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Generate a migration from the difference between the models and the database."""
    migrations.revision(message, _settings().database_url)


@users_app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The administrator's email.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "Administrator",
) -> None:
    """Create an administrator. The password comes from COLLOQUY_ADMIN_PASSWORD or a prompt."""
    from colloquy.accounts.bootstrap import create_admin as create

    settings = _settings()
    password = os.environ.get("COLLOQUY_ADMIN_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        user_id = anyio.run(create, settings, email, name, password)
    except ValueError as exc:
        typer.echo(f"colloquy: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"Created administrator {email} ({user_id}).")


@maintenance_app.command("purge")
def maintenance_purge() -> None:
    """Delete for good the tasks deleted more than COLLOQUY_TASK_RETENTION_DAYS days ago."""
    from colloquy.tasks.maintenance import purge_once

    purged = anyio.run(purge_once, _settings())
    typer.echo(f"Purged {purged} deleted task(s).")
