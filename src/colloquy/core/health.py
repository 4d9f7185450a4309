"""Liveness, database and readiness probes, and the Prometheus endpoint. No authentication."""

from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from colloquy.core import metrics
from colloquy.core.database import Database
from colloquy.core.errors import PROBLEM_JSON, problem

router = APIRouter(tags=["health"])
PROBE_TIMEOUT = 3.0


async def _check_database(database: Database) -> str:
    try:
        with anyio.fail_after(PROBE_TIMEOUT):
            async with database.read_sessions() as session:
                await session.execute(text("SELECT 1"))
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return "ok"


async def _check_redis(client: Any) -> str:
    try:
        with anyio.fail_after(PROBE_TIMEOUT):
            await client.ping()
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"
    return "ok"


def _answer(checks: dict[str, str]) -> JSONResponse:
    failed = sorted(name for name, result in checks.items() if result != "ok")
    if not failed:
        return JSONResponse({"status": "ok", "checks": checks})
    body = problem(
        status=503,
        title="Service Unavailable",
        detail=f"Not ready: {', '.join(failed)} unavailable.",
        code=f"{failed[0]}_unavailable",
        extra={"checks": checks},
    )
    return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. Touches nothing else."""
    return {"status": "ok"}


@router.get("/health/db")
async def health_db(request: Request) -> JSONResponse:
    """The database answers one query."""
    return _answer({"database": await _check_database(request.app.state.database)})


@router.get("/health/ready")
async def health_ready(request: Request) -> JSONResponse:
    """Readiness: the database, and Redis when configured."""
    checks = {"database": await _check_database(request.app.state.database)}
    if request.app.state.redis is not None:
        checks["redis"] = await _check_redis(request.app.state.redis)
    return _answer(checks)


metrics_router = APIRouter(tags=["health"])


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics_endpoint() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
