"""Per-minute limits and running-reply slots: counted in the process, or in Redis so that every
replica shares them.

A meter is one limit on one subject (a user, an API key, a user on one model). Taking a set of
meters is all-or-nothing: each must still have room (`used < limit`), then each is charged its
amount — one request, a token estimate, one running reply. A token estimate is corrected to the
real count when the call ends, in the window it was charged to, so parallel calls overshoot a
limit by at most one call's estimate.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

WINDOW = 60
# A running-reply slot frees itself after this long should its process die without releasing it.
SLOT_TTL = 600

MeterKind = Literal["requests", "tokens", "streams"]


@dataclass(frozen=True, slots=True)
class Meter:
    kind: MeterKind
    subject: str
    limit: int
    amount: int

    @property
    def windowed(self) -> bool:
        return self.kind != "streams"

    def key(self, namespace: str, window: int) -> str:
        if self.windowed:
            return f"{namespace}:{self.kind}:{self.subject}:{window}"
        return f"{namespace}:streams:{self.subject}"


class Refused(Exception):
    """A meter had no room; `retry_after` is in seconds."""

    def __init__(self, meter: Meter, used: int, retry_after: int) -> None:
        super().__init__(f"{meter.kind} limit reached for {meter.subject}")
        self.meter = meter
        self.used = used
        self.retry_after = retry_after


@dataclass(slots=True)
class Hold:
    """What a call took: released (streams) and corrected (tokens) when it ends."""

    slot: str
    window: int
    meters: list[Meter]
    used: list[int] = field(default_factory=list)
    done: bool = False


def current_window(now: float) -> int:
    return int(now // WINDOW) * WINDOW


def retry_after(window: int, now: float) -> int:
    return max(1, int(window + WINDOW - now + 0.999))


class MeterStore(Protocol):
    async def take(self, meters: Sequence[Meter], *, slot: str, now: float) -> list[int]:
        """Charge every meter or none; the counts after charging. Raises Refused."""

    async def adjust(self, meter: Meter, *, window: int, delta: int) -> None:
        """Correct a window's count (a token estimate replaced by the real count)."""

    async def release(self, meters: Sequence[Meter], *, slot: str) -> None:
        """Free the call's running-reply slots."""

    async def close(self) -> None: ...


class MemoryMeterStore:
    """Counts for one process; enough when one process serves every request."""

    def __init__(self, namespace: str = "colloquy:limits") -> None:
        self.namespace = namespace
        self._windows: dict[str, tuple[int, float]] = {}
        self._slots: dict[str, dict[str, float]] = {}
        self._swept = 0.0

    def _sweep(self, now: float) -> None:
        if now - self._swept < WINDOW:
            return
        self._swept = now
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        for key in list(self._slots):
            live = {slot: until for slot, until in self._slots[key].items() if until > now}
            if live:
                self._slots[key] = live
            else:
                del self._slots[key]

    def _used(self, meter: Meter, window: int, now: float) -> int:
        key = meter.key(self.namespace, window)
        if meter.windowed:
            count, expires = self._windows.get(key, (0, 0.0))
            return count if expires > now else 0
        return sum(1 for until in self._slots.get(key, {}).values() if until > now)

    async def take(self, meters: Sequence[Meter], *, slot: str, now: float) -> list[int]:
        self._sweep(now)
        window = current_window(now)
        for meter in meters:
            used = self._used(meter, window, now)
            if used >= meter.limit:
                wait = retry_after(window, now) if meter.windowed else 1
                raise Refused(meter, used, wait)
        counts = []
        for meter in meters:
            key = meter.key(self.namespace, window)
            if meter.windowed:
                count = self._used(meter, window, now) + meter.amount
                self._windows[key] = (count, window + 2 * WINDOW)
            else:
                slots = self._slots.setdefault(key, {})
                slots[slot] = now + SLOT_TTL
                count = self._used(meter, window, now)
            counts.append(count)
        return counts

    async def adjust(self, meter: Meter, *, window: int, delta: int) -> None:
        key = meter.key(self.namespace, window)
        entry = self._windows.get(key)
        if entry is not None:
            self._windows[key] = (entry[0] + delta, entry[1])

    async def release(self, meters: Sequence[Meter], *, slot: str) -> None:
        for meter in meters:
            if not meter.windowed:
                self._slots.get(meter.key(self.namespace, 0), {}).pop(slot, None)

    async def close(self) -> None:
        return None


# KEYS: one per meter. ARGV: now, slot, slot_ttl, window_ttl, then kind and limit and amount
# for each meter ("w" for a window, "s" for slots). Returns {0, counts...} or {index, used}.
_TAKE = """
local now = tonumber(ARGV[1])
local used = {}
for i = 1, #KEYS do
  local kind = ARGV[4 + (i - 1) * 3 + 1]
  local limit = tonumber(ARGV[4 + (i - 1) * 3 + 2])
  local value
  if kind == 'w' then
    value = tonumber(redis.call('GET', KEYS[i]) or '0')
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    value = redis.call('ZCARD', KEYS[i])
  end
  if value >= limit then
    return {i, value}
  end
  used[i] = value
end
local counts = {0}
for i = 1, #KEYS do
  local kind = ARGV[4 + (i - 1) * 3 + 1]
  local amount = tonumber(ARGV[4 + (i - 1) * 3 + 3])
  if kind == 'w' then
    counts[i + 1] = redis.call('INCRBY', KEYS[i], amount)
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[4]))
  else
    redis.call('ZADD', KEYS[i], now + tonumber(ARGV[3]), ARGV[2])
    redis.call('EXPIRE', KEYS[i], tonumber(ARGV[3]))
    counts[i + 1] = used[i] + 1
  end
end
return counts
"""

# Correct a window only while it still exists (an expired one counts for nothing any more).
_ADJUST = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))
end
return 0
"""


class RedisMeterStore:
    """Counts shared by every replica: each take is one atomic script."""

    def __init__(self, redis_url: str, namespace: str = "colloquy:limits") -> None:
        from redis.asyncio import Redis

        self.namespace = namespace
        self._redis: Any = Redis.from_url(redis_url)
        self._take = self._redis.register_script(_TAKE)
        self._adjust = self._redis.register_script(_ADJUST)

    async def take(self, meters: Sequence[Meter], *, slot: str, now: float) -> list[int]:
        window = current_window(now)
        keys = [meter.key(self.namespace, window) for meter in meters]
        args: list[Any] = [now, slot, SLOT_TTL, 2 * WINDOW]
        for meter in meters:
            args += ["w" if meter.windowed else "s", meter.limit, meter.amount]
        result = [int(value) for value in await self._take(keys=keys, args=args)]
        if result[0] != 0:
            meter = meters[result[0] - 1]
            wait = retry_after(window, now) if meter.windowed else 1
            raise Refused(meter, result[1], wait)
        return result[1:]

    async def adjust(self, meter: Meter, *, window: int, delta: int) -> None:
        await self._adjust(keys=[meter.key(self.namespace, window)], args=[delta])

    async def release(self, meters: Sequence[Meter], *, slot: str) -> None:
        slots = [meter.key(self.namespace, 0) for meter in meters if not meter.windowed]
        if slots:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in slots:
                    pipe.zrem(key, slot)
                await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()


def meter_store(redis_url: str | None, namespace: str = "colloquy:limits") -> MeterStore:
    return RedisMeterStore(redis_url, namespace) if redis_url else MemoryMeterStore(namespace)


def now() -> float:
    return time.time()
