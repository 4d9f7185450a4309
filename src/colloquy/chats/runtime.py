"""The parts conversations need for the life of the process: providers, the event log, the
fan-out hub and the generation manager, in memory or on Redis as configured."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog

from colloquy.chats.events import EventLog, Hub, MemoryEventLog, MemoryHub, RedisEventLog, RedisHub
from colloquy.chats.generation import GenerationManager
from colloquy.core.database import Database, transaction
from colloquy.core.settings import Settings
from colloquy.llm import service as llm
from colloquy.llm.config import load_provider_configs
from colloquy.llm.providers import ProviderRegistry
from colloquy.usage.limits import meter_store
from colloquy.usage.service import Metering

log = structlog.get_logger("colloquy.chats")


@dataclass(frozen=True, slots=True)
class Conversations:
    providers: ProviderRegistry
    generations: GenerationManager
    hub: Hub
    metering: Metering


def _streaming_redis(url: str) -> Any:
    from redis.asyncio import Redis

    # Blocking reads and pub/sub listeners wait longer than any socket timeout would allow.
    return Redis.from_url(url, socket_connect_timeout=3, socket_timeout=None)


async def _register_dev_model(database: Database, settings: Settings) -> None:
    try:
        async with transaction(database) as session:
            await llm.ensure_dev_model(session, settings)
    except Exception:
        log.warning("dev_model_registration_failed", exc_info=True)


@asynccontextmanager
async def conversations(database: Database, settings: Settings) -> AsyncIterator[Conversations]:
    providers = ProviderRegistry.from_configs(load_provider_configs(settings), settings)
    redis = _streaming_redis(settings.redis_url) if settings.redis_url else None
    events: EventLog
    hub: Hub
    if redis is not None:
        events = RedisEventLog(redis, settings.generation_event_ttl)
        hub = RedisHub(redis)
    else:
        events = MemoryEventLog(settings.generation_event_ttl)
        hub = MemoryHub()
    await hub.start()
    metering = Metering(settings, meter_store(settings.redis_url))
    generations = GenerationManager(
        database=database, providers=providers, events=events, hub=hub, metering=metering
    )
    await _register_dev_model(database, settings)
    try:
        yield Conversations(
            providers=providers, generations=generations, hub=hub, metering=metering
        )
    finally:
        await generations.aclose()
        await metering.aclose()
        await hub.aclose()
        await events.aclose()
        await providers.aclose()
        if redis is not None:
            await redis.aclose()
