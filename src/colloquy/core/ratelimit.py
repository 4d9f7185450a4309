"""Rate limits on a moving window: in memory on one process, in Redis when replicas share counts."""

import math
import time
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from colloquy.core.errors import RateLimited


def redis_storage_uri(redis_url: str) -> str:
    scheme, _, rest = redis_url.partition("://")
    return f"async+{scheme}://{rest}"


class RateLimiter:
    def __init__(self, redis_url: str | None = None, *, namespace: str = "colloquy") -> None:
        self.storage: Storage
        self._pool: Any = None
        if redis_url:
            from redis.asyncio import ConnectionPool

            self._pool = ConnectionPool.from_url(redis_url)
            self.storage = RedisStorage(
                redis_storage_uri(redis_url),
                implementation="redispy",
                key_prefix=namespace,
                connection_pool=self._pool,
            )
        else:
            self.storage = MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self.storage)

    async def hit(self, rate: str, *key: str) -> None:
        """Count one attempt against every limit in `rate`; raise RateLimited when one is spent."""
        for item in parse_many(rate):
            if not await self._strategy.hit(item, *key):
                raise RateLimited(await self._retry_after(item, key))

    async def _retry_after(self, item: RateLimitItem, key: tuple[str, ...]) -> int:
        stats = await self._strategy.get_window_stats(item, *key)
        return math.ceil(stats.reset_time - time.time())

    async def reset(self) -> None:
        await self.storage.reset()

    async def close(self) -> None:
        """Release the Redis connections (the pool is ours, so the storage never closes it)."""
        if self._pool is not None:
            await self._pool.aclose()
