"""Request ids, security headers, CORS, docs, metrics and the access log."""

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from tests.conftest import make_settings
from tests.core.apps import running_app
from tests.support import PASSWORD, assert_problem, make_account, make_admin, unique_email

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
ORIGIN = "https://app.example"
CORS = {"cors_origins": [ORIGIN]}


def _requests_total(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("colloquy_http_requests_total", labels) or 0.0


@pytest.mark.parametrize(
    "request_id", ["abc-123", "trace.id:42_x", "A" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e"]
)
async def test_valid_request_id_is_echoed(client: httpx.AsyncClient, request_id: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health")
    assert GENERATED_ID.match(first.headers["x-request-id"])
    assert GENERATED_ID.match(second.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    "request_id",
    ["A" * 129, "has spaces", "new\tline", "<script>", "semi;colon", "x" * 10_000],
    ids=["too-long", "spaces", "tab", "markup", "semicolon", "huge"],
)
async def test_invalid_request_id_is_replaced(client: httpx.AsyncClient, request_id: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": request_id})
    assert GENERATED_ID.match(response.headers["x-request-id"])


async def test_request_id_is_on_error_responses(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope", headers={"X-Request-ID": "trace-404"})
    assert_problem(response, 404, "not_found")
    assert response.headers["x-request-id"] == "trace-404"
    invalid = await client.post("/api/v1/auth/login", json={}, headers={"X-Request-ID": "t-422"})
    assert_problem(invalid, 422)
    assert invalid.headers["x-request-id"] == "t-422"


@pytest.mark.parametrize("path", ["/health", "/api/v1/users/me", "/nope"])
async def test_security_headers_on_api_routes(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_docs_have_no_content_security_policy(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_production_adds_hsts(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path / "var", env="production")
    async with running_app(settings) as (_, client):
        response = await client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize("settings_overrides", [CORS], ids=["cors"])
async def test_cors_preflight_from_an_allowed_origin(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v1/auth/login",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("settings_overrides", [CORS], ids=["cors"])
async def test_cors_preflight_from_another_origin_is_not_allowed(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options(
        "/api/v1/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("settings_overrides", [CORS], ids=["cors"])
async def test_cors_simple_request_exposes_the_request_id(client: httpx.AsyncClient) -> None:
    allowed = await client.get("/health", headers={"Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    other = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v1/auth/login", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in response.headers


async def test_docs_are_served_by_default(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    schema = await client.get("/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/auth/login" in schema.json()["paths"]


@pytest.mark.parametrize("settings_overrides", [{"docs_enabled": False}], ids=["no-docs"])
@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_docs_can_be_turned_off(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path), 404, "not_found")


async def test_metrics_count_requests_by_route_template(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    login_route = "/api/v1/auth/login"
    user_route = "/api/v1/admin/users/{user_id}"
    logins_before = _requests_total("POST", login_route, 200)
    lookups_before = _requests_total("GET", user_route, 200)

    admin = await make_admin(app, client)
    lookup = await client.get(f"/api/v1/admin/users/{admin.id}", headers=admin.headers)
    assert lookup.status_code == 200

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "colloquy_http_requests_total" in text
    assert f'route="{login_route}"' in text
    assert f'route="{user_route}"' in text
    assert admin.id not in text
    assert "colloquy_http_request_duration_seconds_bucket" in text
    assert _requests_total("POST", login_route, 200) == logins_before + 1
    assert _requests_total("GET", user_route, 200) == lookups_before + 1


async def test_metrics_label_unmatched_paths_without_the_path(client: httpx.AsyncClient) -> None:
    path = f"/scan-{uuid.uuid4().hex}"
    before = _requests_total("GET", "<unmatched>", 404)
    assert (await client.get(path)).status_code == 404
    assert _requests_total("GET", "<unmatched>", 404) == before + 1
    assert path not in (await client.get("/metrics")).text


async def test_metrics_count_failures_by_status(client: httpx.AsyncClient) -> None:
    route = "/api/v1/auth/login"
    before = _requests_total("POST", route, 401)
    response = await client.post(route, json={"email": unique_email(), "password": PASSWORD})
    assert response.status_code == 401
    assert _requests_total("POST", route, 401) == before + 1


@pytest.mark.parametrize("settings_overrides", [{"metrics_enabled": False}], ids=["no-metrics"])
async def test_metrics_can_be_turned_off(client: httpx.AsyncClient) -> None:
    before = _requests_total("GET", "/health", 200)
    assert (await client.get("/health")).status_code == 200
    assert_problem(await client.get("/metrics"), 404, "not_found")
    assert _requests_total("GET", "/health", 200) == before


def _request_lines(output: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "request"]


async def test_one_json_log_line_per_request(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "var", log_level="INFO")
    async with running_app(settings) as (_, client):
        account = await make_account(client)
        capsys.readouterr()
        await client.get("/api/v1/users/me", headers={**account.headers, "X-Request-ID": "log-1"})
        await client.get("/api/v1/users/not-here", headers={"X-Request-ID": "log-2"})
        await client.post("/api/v1/auth/login", json={}, headers={"X-Request-ID": "log-3"})
        output = capsys.readouterr().out

    lines = _request_lines(output)
    assert [line["request_id"] for line in lines] == ["log-1", "log-2", "log-3"]
    me, missing, invalid = lines
    assert me["method"] == "GET"
    assert me["route"] == "/api/v1/users/me"
    assert me["path"] == "/api/v1/users/me"
    assert me["status"] == 200
    assert me["user_id"] == account.id
    assert isinstance(me["duration_ms"], float | int)
    assert me["duration_ms"] >= 0
    assert me["level"] == "info"
    assert me["timestamp"].endswith("Z")
    assert me["client_ip"] == "127.0.0.1"
    assert missing["route"] == "<unmatched>"
    assert missing["status"] == 404
    assert missing["user_id"] is None
    assert invalid["method"] == "POST"
    assert invalid["route"] == "/api/v1/auth/login"
    assert invalid["status"] == 422
    assert account.password not in output
    assert account.access_token not in output


async def test_log_lines_follow_the_configured_level(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    for level, expected in (("INFO", 1), ("WARNING", 0), ("INFO", 1)):
        settings = make_settings(database_url, tmp_path / "var", log_level=level)
        async with running_app(settings) as (_, client):
            capsys.readouterr()
            await client.get("/health")
            assert len(_request_lines(capsys.readouterr().out)) == expected, level


async def test_a_crash_is_logged_with_its_request_id(
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from colloquy.accounts import service as accounts

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts, "login", crash)
    settings = make_settings(database_url, tmp_path / "var", log_level="INFO")
    async with running_app(settings) as (_, client):
        capsys.readouterr()
        response = await client.post(
            "/api/v1/auth/login",
            json={"email": unique_email(), "password": PASSWORD},
            headers={"X-Request-ID": "crash-1"},
        )
        output = capsys.readouterr().out
    assert response.status_code == 500
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    crash_line = next(event for event in events if event["event"] == "unhandled_error")
    assert crash_line["request_id"] == "crash-1"
    assert crash_line["level"] == "error"
    assert "RuntimeError: boom" in crash_line["exception"]
    (request_line,) = _request_lines(output)
    assert request_line["status"] == 500
    assert request_line["request_id"] == "crash-1"


async def test_an_oversized_body_is_not_logged_as_a_crash(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "var", log_level="INFO")
    async with running_app(settings) as (_, client):
        capsys.readouterr()
        response = await client.post(
            "/api/v1/auth/register",
            content=b"x" * (settings.max_body_size + 1),
            headers={"Content-Type": "application/json"},
        )
        output = capsys.readouterr().out
    assert_problem(response, 413, "payload_too_large")
    assert "unhandled_error" not in output
    (line,) = _request_lines(output)
    assert line["status"] == 413
