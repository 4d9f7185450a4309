"""Builds the FastAPI application: settings, lifespan, middleware and routers; nothing else."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from colloquy import __version__
from colloquy.accounts import service as accounts
from colloquy.accounts.router import admin_router, auth_router, users_router
from colloquy.agents.router import router as agents_router
from colloquy.chats.router import router as chats_router
from colloquy.chats.runtime import conversations
from colloquy.chats.ws import router as ws_router
from colloquy.core.database import Database, create_engine
from colloquy.core.handlers import install_error_handlers
from colloquy.core.health import metrics_router
from colloquy.core.health import router as health_router
from colloquy.core.logging import configure_logging
from colloquy.core.middleware import RequestContextMiddleware
from colloquy.core.openapi import install_openapi
from colloquy.core.ratelimit import RateLimiter
from colloquy.core.security import PasswordHasher, TokenSigner
from colloquy.core.settings import Settings
from colloquy.datasets.router import router as datasets_router
from colloquy.datasets.storage import storage_from_settings
from colloquy.datasets.upload import body_size_allowances
from colloquy.fine_tuning.queue import job_runner
from colloquy.fine_tuning.router import jobs_router as fine_tuning_jobs_router
from colloquy.fine_tuning.router import router as fine_tuning_router
from colloquy.keys import service as keys
from colloquy.keys.router import router as keys_router
from colloquy.llm.router import router as models_router
from colloquy.openai_api import files as openai_files
from colloquy.openai_api.fine_tuning import router as openai_fine_tuning_router
from colloquy.openai_api.router import install_error_handlers as install_openai_error_handlers
from colloquy.openai_api.router import router as openai_router
from colloquy.projects.router import router as projects_router
from colloquy.prompts.router import common_router as common_prompts_router
from colloquy.prompts.router import router as prompts_router
from colloquy.tasks.maintenance import periodic_purge
from colloquy.tasks.router import router as tasks_router
from colloquy.usage.router import admin_router as admin_usage_router
from colloquy.usage.router import router as usage_router
from colloquy.usage.service import RATE_LIMIT_HEADERS


def _redis_client(url: str | None) -> Any:
    if url is None:
        return None
    from redis.asyncio import Redis

    return Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.database = Database(create_engine(settings))
    app.state.redis = _redis_client(settings.redis_url)
    app.state.rate_limiter = RateLimiter(settings.redis_url)
    app.state.key_authenticator = keys.KeyAuthenticator(settings, app.state.database)
    app.state.dataset_storage = storage_from_settings(settings)
    app.state.auth_tools = accounts.AuthTools(
        settings=settings,
        hasher=PasswordHasher(settings),
        signer=TokenSigner(settings),
        limiter=app.state.rate_limiter,
        key_authenticator=app.state.key_authenticator,
    )
    try:
        async with (
            periodic_purge(app.state.database, settings),
            conversations(app.state.database, settings) as running,
            job_runner(app.state.database, settings) as fine_tuning_runner,
        ):
            app.state.fine_tuning_runner = fine_tuning_runner
            app.state.providers = running.providers
            app.state.generations = running.generations
            app.state.hub = running.hub
            app.state.metering = running.metering
            yield
    finally:
        await app.state.key_authenticator.drain()
        await app.state.rate_limiter.close()
        if app.state.redis is not None:
            await app.state.redis.aclose()
        await app.state.database.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check()
    configure_logging(level=settings.log_level, json=settings.log_json)
    app = FastAPI(
        title="Colloquy",
        version=__version__,
        summary="A self-hostable backend for AI chat and agent applications.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_openai_error_handlers(app)
    install_openapi(app)

    for router in (
        auth_router,
        users_router,
        admin_router,
        keys_router,
        projects_router,
        agents_router,
        prompts_router,
        common_prompts_router,
        tasks_router,
        models_router,
        usage_router,
        admin_usage_router,
        chats_router,
        datasets_router,
        fine_tuning_router,
        fine_tuning_jobs_router,
        openai_router,
        openai_files.router,
        openai_fine_tuning_router,
        ws_router,
        health_router,
    ):
        app.include_router(router)
    if settings.metrics_enabled:
        app.include_router(metrics_router)

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Retry-After", *RATE_LIMIT_HEADERS],
    )
    app.add_middleware(
        RequestContextMiddleware,
        trusted_proxies=settings.trusted_networks,
        metrics_enabled=settings.metrics_enabled,
        hsts=settings.is_production,
        max_body_size=settings.max_body_size,
        body_size_allowances={
            **body_size_allowances(settings),
            **openai_files.body_size_allowances(settings),
        },
    )
    return app
