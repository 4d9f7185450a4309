"""The meter stores on their own: in memory, and in Redis as every replica shares it."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from colloquy.usage.limits import (
    SLOT_TTL,
    WINDOW,
    MemoryMeterStore,
    Meter,
    MeterStore,
    RedisMeterStore,
    Refused,
    current_window,
)
from tests.conftest import TEST_REDIS_URL

needs_redis = pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis (set TEST_REDIS_URL)")
# A fixed minute: 45 s into it, so a refused windowed meter says "retry in 15 s".
START = 1_000 * WINDOW
NOW = START + 45.0


def requests(limit: int, subject: str = "key:a") -> Meter:
    return Meter("requests", subject, limit, 1)


def tokens(limit: int, amount: int, subject: str = "key:a") -> Meter:
    return Meter("tokens", subject, limit, amount)


def streams(limit: int, subject: str = "user:a") -> Meter:
    return Meter("streams", subject, limit, 1)


def slot() -> str:
    return uuid.uuid4().hex


async def refused(store: MeterStore, meters: list[Meter], *, now: float = NOW) -> Refused:
    with pytest.raises(Refused) as caught:
        await store.take(meters, slot=slot(), now=now)
    return caught.value


StoreFactory = Callable[[], MeterStore]


async def delete_namespace(namespace: str) -> None:
    assert TEST_REDIS_URL
    redis: Any = Redis.from_url(TEST_REDIS_URL)
    try:
        found = [key async for key in redis.scan_iter(match=f"{namespace}:*", count=1000)]
        if found:
            await redis.delete(*found)
    finally:
        await redis.aclose()


@asynccontextmanager
async def redis_namespace_stores(namespace: str) -> AsyncIterator[StoreFactory]:
    """Makes Redis stores on one namespace, as the replicas of one deployment have them; the
    namespace's keys are deleted afterwards."""
    assert TEST_REDIS_URL
    url = TEST_REDIS_URL
    made: list[RedisMeterStore] = []

    def make() -> MeterStore:
        made.append(RedisMeterStore(url, namespace=namespace))
        return made[-1]

    try:
        yield make
    finally:
        for store in made:
            await store.close()
        await delete_namespace(namespace)


@pytest.fixture
def redis_namespace() -> str:
    return f"colloquy-test-limits:{uuid.uuid4().hex}"


@pytest.fixture
async def redis_stores(redis_namespace: str) -> AsyncIterator[StoreFactory]:
    async with redis_namespace_stores(redis_namespace) as make:
        yield make


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=[pytest.mark.redis, needs_redis]),
    ]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[MeterStore]:
    if request.param == "memory":
        yield MemoryMeterStore(namespace=f"test:{uuid.uuid4().hex}")
        return
    async with redis_namespace_stores(f"colloquy-test-limits:{uuid.uuid4().hex}") as make:
        yield make()


async def test_take_charges_every_meter_and_returns_the_counts(store: MeterStore) -> None:
    meters = [requests(5), tokens(100, 30), streams(3)]

    assert await store.take(meters, slot=slot(), now=NOW) == [1, 30, 1]
    assert await store.take(meters, slot=slot(), now=NOW) == [2, 60, 2]


async def test_admits_while_used_is_below_the_limit(store: MeterStore) -> None:
    # A call is let in while there is any room, whatever it will charge.
    assert await store.take([tokens(10, 25)], slot=slot(), now=NOW) == [25]
    error = await refused(store, [tokens(10, 25)])
    assert error.used == 25

    assert await store.take([requests(2)], slot=slot(), now=NOW) == [1]
    assert await store.take([requests(2)], slot=slot(), now=NOW) == [2]
    assert (await refused(store, [requests(2)])).used == 2


async def test_a_refused_meter_charges_none_of_the_others(store: MeterStore) -> None:
    full = tokens(1, 1, subject="user:full")
    await store.take([full], slot=slot(), now=NOW)
    others = [requests(5, "key:b"), tokens(100, 40, "key:b"), streams(1, "user:b")]

    error = await refused(store, [*others, full])

    assert error.meter == full
    # Nothing was charged: not the request, not the tokens, not the running-reply slot.
    assert await store.take(others, slot=slot(), now=NOW) == [1, 40, 1]


async def test_refused_carries_the_meter_its_use_and_when_to_retry(store: MeterStore) -> None:
    meter = requests(2)
    for _ in range(2):
        await store.take([meter], slot=slot(), now=NOW)

    error = await refused(store, [meter])

    assert error.meter == meter
    assert error.used == 2
    assert error.retry_after == 15  # the window ends 15 s after NOW
    assert "requests" in str(error)
    assert "key:a" in str(error)


async def test_a_refused_stream_says_retry_in_a_second(store: MeterStore) -> None:
    meter = streams(1)
    await store.take([meter], slot=slot(), now=NOW)

    error = await refused(store, [meter])

    assert (error.meter, error.used, error.retry_after) == (meter, 1, 1)


async def test_windows_roll_over_after_a_minute(store: MeterStore) -> None:
    meter = requests(1)
    assert await store.take([meter], slot=slot(), now=START + 1) == [1]
    assert (await refused(store, [meter], now=START + WINDOW - 0.5)).retry_after == 1

    assert await store.take([meter], slot=slot(), now=START + WINDOW) == [1]
    assert (await refused(store, [meter], now=START + WINDOW + 1)).retry_after == 59


async def test_adjust_replaces_an_estimate_in_its_window(store: MeterStore) -> None:
    meter = tokens(100, 80)
    await store.take([meter], slot=slot(), now=NOW)

    await store.adjust(meter, window=current_window(NOW), delta=-70)

    assert await store.take([meter], slot=slot(), now=NOW) == [90]
    await store.adjust(meter, window=current_window(NOW), delta=30)
    assert (await refused(store, [meter])).used == 120


async def test_adjust_leaves_other_windows_alone(store: MeterStore) -> None:
    meter = tokens(100, 80)
    await store.take([meter], slot=slot(), now=NOW)
    later = NOW + WINDOW

    await store.adjust(meter, window=current_window(NOW), delta=-80)
    await store.adjust(meter, window=current_window(later), delta=500)

    assert await store.take([meter], slot=slot(), now=NOW) == [80]
    assert await store.take([meter], slot=slot(), now=later) == [80]


async def test_release_frees_the_call_s_stream_slots(store: MeterStore) -> None:
    meters = [requests(10), streams(1)]
    first = slot()
    await store.take(meters, slot=first, now=NOW)
    error = await refused(store, meters)
    assert (error.meter.kind, error.used) == ("streams", 1)

    await store.release(meters, slot=first)

    # The slot is free again; the request it made still counts in its minute.
    assert await store.take(meters, slot=slot(), now=NOW) == [2, 1]


async def test_release_of_another_slot_or_twice_frees_nothing_else(store: MeterStore) -> None:
    meter = streams(2)
    first, second = slot(), slot()
    assert await store.take([meter], slot=first, now=NOW) == [1]
    assert await store.take([meter], slot=second, now=NOW) == [2]

    await store.release([meter], slot=first)
    await store.release([meter], slot=first)
    await store.release([meter], slot=slot())

    assert await store.take([meter], slot=slot(), now=NOW) == [2]
    await refused(store, [meter])


async def test_slots_expire_after_slot_ttl(store: MeterStore) -> None:
    meter = streams(1)
    await store.take([meter], slot=slot(), now=NOW)
    await refused(store, [meter], now=NOW + SLOT_TTL - 1)

    assert await store.take([meter], slot=slot(), now=NOW + SLOT_TTL) == [1]


async def test_meters_of_other_subjects_and_kinds_are_apart(store: MeterStore) -> None:
    await store.take([requests(1, "key:a")], slot=slot(), now=NOW)

    assert await store.take([requests(1, "key:b")], slot=slot(), now=NOW) == [1]
    assert await store.take([tokens(1, 7, "key:a")], slot=slot(), now=NOW) == [7]


async def test_memory_adjust_does_nothing_once_the_window_is_swept() -> None:
    store = MemoryMeterStore()
    meter = tokens(100, 10)
    await store.take([meter], slot=slot(), now=NOW)
    # A take three minutes on sweeps the first window away.
    await store.take([meter], slot=slot(), now=NOW + 3 * WINDOW)

    await store.adjust(meter, window=current_window(NOW), delta=50)

    # Had the adjustment recreated the window, a take in it would count 50 more.
    assert await store.take([meter], slot=slot(), now=NOW) == [10]


async def test_memory_stores_do_not_share_counts() -> None:
    first, second = MemoryMeterStore(), MemoryMeterStore()
    await first.take([requests(1)], slot=slot(), now=NOW)

    assert await second.take([requests(1)], slot=slot(), now=NOW) == [1]


@pytest.mark.redis
@needs_redis
async def test_redis_adjust_does_nothing_once_the_window_is_gone(
    redis_stores: StoreFactory, redis_namespace: str
) -> None:
    assert TEST_REDIS_URL
    store = redis_stores()
    meter = tokens(100, 10)
    await store.take([meter], slot=slot(), now=NOW)
    key = meter.key(redis_namespace, current_window(NOW))
    redis: Any = Redis.from_url(TEST_REDIS_URL)
    try:
        # Windows expire on their own, a little after their minute is over.
        ttl = await redis.ttl(key)
        assert 0 < ttl <= 2 * WINDOW
        await redis.delete(key)  # as its expiry would

        await store.adjust(meter, window=current_window(NOW), delta=50)

        assert await redis.exists(key) == 0
    finally:
        await redis.aclose()


@pytest.mark.redis
@needs_redis
async def test_redis_stores_on_one_namespace_share_counts(redis_stores: StoreFactory) -> None:
    first, second = redis_stores(), redis_stores()
    meters = [requests(3), tokens(1000, 100), streams(2)]
    running = slot()

    assert await first.take(meters, slot=running, now=NOW) == [1, 100, 1]
    assert await second.take(meters, slot=slot(), now=NOW) == [2, 200, 2]
    assert (await refused(first, meters)).meter.kind == "streams"

    await second.release(meters, slot=running)
    await second.adjust(meters[1], window=current_window(NOW), delta=-50)

    assert await first.take(meters, slot=slot(), now=NOW) == [3, 250, 2]
    error = await refused(second, [requests(3)])
    assert error.used == 3


@pytest.mark.redis
@needs_redis
async def test_redis_namespaces_are_apart(redis_stores: StoreFactory) -> None:
    await redis_stores().take([requests(1)], slot=slot(), now=NOW)

    async with redis_namespace_stores(f"colloquy-test-limits:{uuid.uuid4().hex}") as elsewhere:
        assert await elsewhere().take([requests(1)], slot=slot(), now=NOW) == [1]
