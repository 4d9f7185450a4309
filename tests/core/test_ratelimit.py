"""Login and registration limits per account and per client address, in memory and in Redis."""

import ipaddress
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from colloquy.core.errors import RateLimited
from colloquy.core.network import client_ip
from colloquy.core.ratelimit import RateLimiter, redis_storage_uri
from tests.conftest import make_settings
from tests.core.apps import running_app
from tests.support import PASSWORD, assert_problem, unique_email

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis (TEST_REDIS_URL)")
LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"
THREE_PER_MINUTE = {"login_rate_limit": "3/minute", "register_rate_limit": "3/minute"}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(THREE_PER_MINUTE)


def _from(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


def _unique_ip() -> str:
    """A documentation-range address no other test or run uses."""
    return str(ipaddress.IPv6Address(f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"))


async def _login(
    client: httpx.AsyncClient, email: str, *, ip: str | None = None, password: str = PASSWORD
) -> httpx.Response:
    return await client.post(
        LOGIN, json={"email": email, "password": password}, headers=_from(ip) if ip else {}
    )


async def _register(
    client: httpx.AsyncClient, email: str, *, ip: str | None = None
) -> httpx.Response:
    return await client.post(
        REGISTER,
        json={"name": "Ann", "email": email, "password": PASSWORD},
        headers=_from(ip) if ip else {},
    )


def _assert_limited(response: httpx.Response, *, within: int = 60) -> int:
    assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= within
    return retry_after


async def test_fourth_login_for_one_account_is_limited(client: httpx.AsyncClient) -> None:
    email = unique_email()
    assert (await _register(client, email, ip="198.51.100.1")).status_code == 201
    for attempt in range(3):
        response = await _login(client, email, ip=f"203.0.113.{attempt + 1}")
        assert response.status_code == 200, response.text
    _assert_limited(await _login(client, email, ip="203.0.113.99"))


async def test_failed_logins_count_towards_the_account_limit(client: httpx.AsyncClient) -> None:
    email = unique_email()
    assert (await _register(client, email, ip="198.51.100.1")).status_code == 201
    for attempt in range(3):
        wrong = await _login(client, email, ip=f"203.0.113.{attempt + 1}", password="wrong pass")
        assert_problem(wrong, 401, "invalid_credentials")
    _assert_limited(await _login(client, email, ip="203.0.113.50"))


async def test_account_limit_ignores_the_case_of_the_email(client: httpx.AsyncClient) -> None:
    email = unique_email()
    for attempt, spelling in enumerate([email, email.upper(), f" {email.title()} "]):
        response = await _login(client, spelling, ip=f"203.0.113.{attempt + 1}")
        assert_problem(response, 401, "invalid_credentials")
    _assert_limited(await _login(client, email, ip="203.0.113.60"))


async def test_logins_from_one_address_are_limited_across_accounts(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        assert_problem(await _login(client, unique_email()), 401, "invalid_credentials")
    limited = await _login(client, unique_email())
    _assert_limited(limited)


async def test_another_forwarded_address_has_its_own_limit(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        response = await _login(client, unique_email(), ip="203.0.113.7")
        assert_problem(response, 401, "invalid_credentials")
    _assert_limited(await _login(client, unique_email(), ip="203.0.113.7"))
    other = await _login(client, unique_email(), ip="203.0.113.8")
    assert_problem(other, 401, "invalid_credentials")
    direct = await _login(client, unique_email())
    assert_problem(direct, 401, "invalid_credentials")


async def test_forwarded_address_from_an_untrusted_peer_is_ignored(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, tmp_path / "var", trusted_proxies=["10.0.0.0/8"], **THREE_PER_MINUTE
    )
    async with running_app(settings) as (_, client):
        for attempt in range(3):
            response = await _login(client, unique_email(), ip=f"203.0.113.{attempt + 1}")
            assert_problem(response, 401, "invalid_credentials")
        _assert_limited(await _login(client, unique_email(), ip="203.0.113.200"))


async def test_successful_login_is_limited_too(client: httpx.AsyncClient) -> None:
    email = unique_email()
    assert (await _register(client, email, ip="198.51.100.1")).status_code == 201
    for _ in range(3):
        assert (await _login(client, email, ip="203.0.113.9")).status_code == 200
    _assert_limited(await _login(client, email, ip="203.0.113.9"))


async def test_registrations_from_one_address_are_limited(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        assert (await _register(client, unique_email(), ip="203.0.113.20")).status_code == 201
    _assert_limited(await _register(client, unique_email(), ip="203.0.113.20"))
    other = await _register(client, unique_email(), ip="203.0.113.21")
    assert other.status_code == 201, other.text


async def test_registrations_of_one_email_are_limited(client: httpx.AsyncClient) -> None:
    email = unique_email()
    assert (await _register(client, email, ip="203.0.113.30")).status_code == 201
    for attempt in range(2):
        taken = await _register(client, email, ip=f"203.0.113.{31 + attempt}")
        assert_problem(taken, 409, "email_taken")
    _assert_limited(await _register(client, email, ip="203.0.113.40"))


async def test_login_and_register_limits_are_counted_apart(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        assert (await _register(client, unique_email(), ip="203.0.113.50")).status_code == 201
    response = await _login(client, unique_email(), ip="203.0.113.50")
    assert_problem(response, 401, "invalid_credentials")


@pytest.mark.parametrize(
    "settings_overrides", [{"login_rate_limit": "2/second"}], ids=["two-per-second"]
)
async def test_limit_resets_after_its_window(client: httpx.AsyncClient) -> None:
    email = unique_email()
    for _ in range(2):
        assert_problem(await _login(client, email), 401, "invalid_credentials")
    retry_after = _assert_limited(await _login(client, email))
    assert retry_after == 1
    await anyio.sleep(1.1)
    assert_problem(await _login(client, email), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "settings_overrides",
    [{"login_rate_limit": "1000/minute;2/hour"}],
    ids=["several-limits"],
)
async def test_every_limit_in_a_rate_counts(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert_problem(await _login(client, unique_email()), 401, "invalid_credentials")
    retry_after = _assert_limited(await _login(client, unique_email()), within=3600)
    assert retry_after > 60


async def test_memory_limiter_counts_each_key_apart() -> None:
    limiter = RateLimiter()
    await limiter.hit("2/minute", "login", "account", "a")
    await limiter.hit("2/minute", "login", "account", "a")
    await limiter.hit("2/minute", "login", "account", "b")
    with pytest.raises(RateLimited) as raised:
        await limiter.hit("2/minute", "login", "account", "a")
    assert 1 <= int(raised.value.headers["Retry-After"]) <= 60
    await limiter.reset()
    await limiter.hit("2/minute", "login", "account", "a")
    await limiter.close()


def test_redis_storage_uri_names_the_async_driver() -> None:
    assert redis_storage_uri("redis://127.0.0.1:6379/15") == "async+redis://127.0.0.1:6379/15"
    assert redis_storage_uri("rediss://u:p@127.0.0.1/0") == "async+rediss://u:p@127.0.0.1/0"


@pytest.fixture
async def redis_keys() -> AsyncIterator[list[str]]:
    """Strings (emails, addresses) whose rate-limit keys are deleted from Redis after the test."""
    from redis.asyncio import Redis

    assert TEST_REDIS_URL
    marks: list[str] = []
    yield marks
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        for mark in marks:
            keys = [key async for key in redis.scan_iter(match=f"*{mark}*", count=1000)]
            if keys:
                await redis.delete(*keys)
    finally:
        await redis.aclose()


@needs_redis
@pytest.mark.redis
async def test_redis_limits_are_shared_between_app_instances(
    database_url: str, tmp_path: Path, redis_keys: list[str]
) -> None:
    email, other_email, third_email = (unique_email("shared") for _ in range(3))
    ip, other_ip, third_ip = (_unique_ip() for _ in range(3))
    redis_keys.extend([email, other_email, third_email, ip, other_ip, third_ip])
    settings = make_settings(
        database_url, tmp_path / "var", redis_url=TEST_REDIS_URL, **THREE_PER_MINUTE
    )
    async with running_app(settings) as (_, first), running_app(settings) as (_, second):
        assert_problem(await _login(first, email, ip=ip), 401, "invalid_credentials")
        assert_problem(await _login(second, email, ip=ip), 401, "invalid_credentials")
        assert_problem(await _login(first, email, ip=other_ip), 401, "invalid_credentials")
        _assert_limited(await _login(second, email, ip=other_ip))
        _assert_limited(await _login(first, email, ip=third_ip))

        assert_problem(await _login(second, other_email, ip=ip), 401, "invalid_credentials")
        _assert_limited(await _login(first, third_email, ip=ip))


@needs_redis
@pytest.mark.redis
async def test_redis_limiter_namespaces_are_apart() -> None:
    assert TEST_REDIS_URL
    namespace = f"colloquy-test-{uuid.uuid4().hex}"
    first = RateLimiter(TEST_REDIS_URL, namespace=namespace)
    second = RateLimiter(TEST_REDIS_URL, namespace=namespace)
    elsewhere = RateLimiter(TEST_REDIS_URL, namespace=f"{namespace}-other")
    try:
        await first.hit("2/minute", "login", "ip", "a")
        await second.hit("2/minute", "login", "ip", "a")
        with pytest.raises(RateLimited):
            await first.hit("2/minute", "login", "ip", "a")
        await elsewhere.hit("2/minute", "login", "ip", "a")
        await first.reset()
        await second.hit("2/minute", "login", "ip", "a")
    finally:
        await first.reset()
        await elsewhere.reset()
        for limiter in (first, second, elsewhere):
            await limiter.close()


TRUSTED = (
    ipaddress.ip_network("127.0.0.1"),
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("fd00::/8"),
)


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        (None, None, None),
        (None, "203.0.113.7", None),
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", " 203.0.113.7 ", "203.0.113.7"),
        ("198.51.100.4", "203.0.113.7", "198.51.100.4"),
        ("127.0.0.1", "203.0.113.7, 10.1.2.3", "203.0.113.7"),
        ("10.9.9.9", "203.0.113.7,10.1.2.3,127.0.0.1", "203.0.113.7"),
        ("127.0.0.1", "198.51.100.66, 203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", "10.0.0.1, 10.0.0.2", "10.0.0.1"),
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.7, garbage", "127.0.0.1"),
        ("127.0.0.1", "garbage, 10.0.0.2", "127.0.0.1"),
        ("127.0.0.1", ", ,", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.7:443", "127.0.0.1"),
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
        ("fd12::1", "2001:db8::1, fd00::2", "2001:db8::1"),
        ("::1", "203.0.113.7", "::1"),
        ("testclient", "203.0.113.7", "testclient"),
        ("127.0.0.1", "203.0.113.7" + ", 10.0.0.1" * 200, "203.0.113.7"),
    ],
)
def test_client_ip(peer: str | None, forwarded_for: str | None, expected: str | None) -> None:
    assert client_ip(peer, forwarded_for, TRUSTED) == expected


def test_client_ip_trusts_nobody_when_no_proxy_is_configured() -> None:
    assert client_ip("127.0.0.1", "203.0.113.7", ()) == "127.0.0.1"


def test_client_ip_with_a_cidr_range_of_proxies() -> None:
    trusted = (ipaddress.ip_network("192.0.2.0/24"),)
    assert client_ip("192.0.2.200", "203.0.113.7, 192.0.2.1", trusted) == "203.0.113.7"
    assert client_ip("192.0.3.1", "203.0.113.7", trusted) == "192.0.3.1"
    assert client_ip("192.0.2.200", "192.0.3.1, 192.0.2.1", trusted) == "192.0.3.1"
