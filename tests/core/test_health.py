"""Health probes, and how the app answers while the database or Redis is away."""

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from tests.conftest import make_settings
from tests.core.apps import running_app
from tests.core.tcp_proxy import TcpProxy
from tests.support import PASSWORD, assert_problem, unique_email

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"
OUTAGE_BOUND_S = 10.0


async def test_liveness(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_database_probe(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/db")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_readiness_without_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_probes_need_no_authentication_and_refuse_writes(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/health", "/health/db", "/health/ready"):
        assert (await client.get(path, headers={"Authorization": "Bearer junk"})).status_code == 200
        assert_problem(await client.post(path), 405, "method_not_allowed")


@pytest.mark.parametrize("settings_overrides", [{"redis_url": CLOSED_PORT_REDIS}], ids=["down"])
async def test_readiness_fails_when_redis_is_down(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.get("/health/ready")
    assert time.monotonic() - started < OUTAGE_BOUND_S
    body = assert_problem(response, 503, "redis_unavailable")
    assert "redis" in body["detail"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")
    liveness = await client.get("/health")
    assert liveness.status_code == 200


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis (TEST_REDIS_URL)")
@pytest.mark.redis
@pytest.mark.parametrize("settings_overrides", [{"redis_url": TEST_REDIS_URL}], ids=["redis"])
async def test_readiness_checks_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.fixture
async def database_proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    """A proxy in front of the PostgreSQL server, so a test can take the database away."""
    target = make_url(database_url)
    if target.get_backend_name() != "postgresql":
        pytest.skip("a network outage needs a database server")
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


async def _login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})


async def test_database_outage_is_a_quick_503_and_the_app_recovers(
    database_url: str, database_proxy: TcpProxy, tmp_path: Path
) -> None:
    proxied = make_url(database_url).set(host="127.0.0.1", port=database_proxy.port)
    settings = make_settings(
        proxied.render_as_string(hide_password=False),
        tmp_path / "var",
        db_connect_timeout=2,
        db_pool_timeout=2,
    )
    async with running_app(settings, cleanup_url=database_url) as (_, client):
        email = unique_email()
        registered = await client.post(
            "/api/v1/auth/register", json={"name": "Ann", "email": email, "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        assert (await _login(client, email)).status_code == 200

        await database_proxy.stop()
        started = time.monotonic()
        login = await _login(client, email)
        probe = await client.get("/health/db")
        ready = await client.get("/health/ready")
        assert time.monotonic() - started < OUTAGE_BOUND_S
        assert_problem(login, 503, "database_unavailable")
        assert int(login.headers["retry-after"]) >= 1
        assert_problem(probe, 503, "database_unavailable")
        assert_problem(ready, 503, "database_unavailable")
        assert (await client.get("/health")).status_code == 200

        await database_proxy.start()
        assert (await _login(client, email)).status_code == 200
        assert (await client.get("/health/db")).status_code == 200
        assert (await client.get("/health/ready")).status_code == 200


async def test_database_outage_during_concurrent_requests(
    database_url: str, database_proxy: TcpProxy, tmp_path: Path
) -> None:
    proxied = make_url(database_url).set(host="127.0.0.1", port=database_proxy.port)
    settings = make_settings(
        proxied.render_as_string(hide_password=False),
        tmp_path / "var",
        db_connect_timeout=2,
        db_pool_timeout=2,
        db_pool_size=2,
        db_max_overflow=0,
    )
    async with running_app(settings, cleanup_url=database_url) as (_, client):
        assert (await client.get("/health/db")).status_code == 200
        await database_proxy.stop()
        started = time.monotonic()
        answers = await asyncio.gather(*(_login(client, unique_email()) for _ in range(6)))
        assert time.monotonic() - started < OUTAGE_BOUND_S
        for answer in answers:
            assert_problem(answer, 503, "database_unavailable")

        await database_proxy.start()
        results = await asyncio.gather(*(client.get("/health/db") for _ in range(6)))
        assert [result.status_code for result in results] == [200] * 6


async def test_concurrent_registrations_all_succeed(client: httpx.AsyncClient) -> None:
    emails = [unique_email("writer") for _ in range(30)]
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/auth/register", json={"name": "W", "email": email, "password": PASSWORD}
            )
            for email in emails
        )
    )
    assert [response.status_code for response in responses] == [201] * 30, [
        response.text for response in responses if response.status_code != 201
    ]
    logins = await asyncio.gather(*(_login(client, email) for email in emails))
    assert [response.status_code for response in logins] == [200] * 30


async def test_concurrent_registrations_of_one_email_create_one_account(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email("race")
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/auth/register", json={"name": "R", "email": email, "password": PASSWORD}
            )
            for _ in range(10)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 9, [response.text for response in responses]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "email_taken")
