"""Bad input is answered with problem details and a 4xx, never a 500; crashes leave no trace."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from colloquy.accounts import service as accounts
from tests.support import PASSWORD, assert_problem, make_account, make_admin, unique_email

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"
ONE_MIB = 1024 * 1024


def _register_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Ann", "email": unique_email(), "password": PASSWORD}
    body.update(changes)
    return body


def _error_locations(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER, content=b'{"name": "Ann", "email": ', headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "changes",
    [
        {"name": 123},
        {"email": ["ann@example.com"]},
        {"password": {"value": PASSWORD}},
        {"name": None},
        {"password": 12345678},
    ],
    ids=["int-name", "list-email", "object-password", "null-name", "int-password"],
)
async def test_register_with_wrong_types_is_422(
    client: httpx.AsyncClient, changes: dict[str, Any]
) -> None:
    response = await client.post(REGISTER, json=_register_body(**changes))
    body = assert_problem(response, 422, "validation_error")
    field = next(iter(changes))
    assert ["body", field] in _error_locations(body)


@pytest.mark.parametrize("body", ["not an object", 42, None, [], ["Ann"]])
async def test_body_of_the_wrong_shape_is_422(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.post(REGISTER, json=body)
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("missing", ["name", "email", "password"])
async def test_register_with_a_missing_field_is_422(
    client: httpx.AsyncClient, missing: str
) -> None:
    body = _register_body()
    del body[missing]
    response = await client.post(REGISTER, json=body)
    problem = assert_problem(response, 422, "validation_error")
    assert ["body", missing] in _error_locations(problem)
    assert problem["errors"][0]["type"] == "missing"


async def test_login_with_missing_fields_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, json={})
    problem = assert_problem(response, 422, "validation_error")
    assert sorted(_error_locations(problem)) == [["body", "email"], ["body", "password"]]


async def test_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    register = await client.post(REGISTER, json=_register_body(is_admin=True))
    assert ["body", "is_admin"] in _error_locations(assert_problem(register, 422))
    login = await client.post(
        LOGIN, json={"email": unique_email(), "password": PASSWORD, "remember": True}
    )
    assert ["body", "remember"] in _error_locations(assert_problem(login, 422))


async def test_no_account_is_made_by_a_refused_registration(client: httpx.AsyncClient) -> None:
    body = _register_body(is_admin=True)
    assert_problem(await client.post(REGISTER, json=body), 422)
    del body["is_admin"]
    created = await client.post(REGISTER, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["is_admin"] is False


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "n" * 101},
        {"email": "a" * 320 + "@example.com"},
        {"password": "p" * 129},
        {"password": "p" * 100_000},
        {"name": ""},
        {"name": "   "},
        {"password": "short"},
    ],
    ids=[
        "long-name",
        "long-email",
        "long-password",
        "huge-password",
        "empty-name",
        "blank-name",
        "short-password",
    ],
)
async def test_register_with_a_bad_length_is_422(
    client: httpx.AsyncClient, changes: dict[str, Any]
) -> None:
    response = await client.post(REGISTER, json=_register_body(**changes))
    body = assert_problem(response, 422, "validation_error")
    assert ["body", next(iter(changes))] in _error_locations(body)


async def test_login_with_over_long_values_is_422(client: httpx.AsyncClient) -> None:
    email = await client.post(LOGIN, json={"email": "e" * 321, "password": PASSWORD})
    assert ["body", "email"] in _error_locations(assert_problem(email, 422))
    password = await client.post(LOGIN, json={"email": unique_email(), "password": "p" * 1025})
    assert ["body", "password"] in _error_locations(assert_problem(password, 422))


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "ann@", "@example.com", "ann@@example.com", "ann example@example.com", ""],
)
async def test_register_with_an_invalid_email_is_422(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(REGISTER, json=_register_body(email=email))
    body = assert_problem(response, 422, "validation_error")
    assert ["body", "email"] in _error_locations(body)


async def test_token_protected_route_validates_its_body(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    cases: list[dict[str, Any]] = [
        {"name": 5},
        {"name": "n" * 101},
        {"email": "nope"},
        {"nickname": "Ann"},
        {"name": None},
    ]
    for payload in cases:
        response = await client.patch(ME, json=payload, headers=account.headers)
        assert_problem(response, 422, "validation_error")
    malformed = await client.patch(
        ME, content=b"{", headers={**account.headers, "Content-Type": "application/json"}
    )
    assert_problem(malformed, 422, "validation_error")
    short = await client.post(
        f"{ME}/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=account.headers,
    )
    assert_problem(short, 422, "validation_error")
    unchanged = await client.get(ME, headers=account.headers)
    assert unchanged.json()["name"] == account.body["name"]


async def test_token_protected_route_refuses_a_bad_token_before_the_body_matters(
    client: httpx.AsyncClient,
) -> None:
    response = await client.patch(
        ME, json={"name": "Ann"}, headers={"Authorization": "Bearer not-a-token"}
    )
    assert_problem(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_non_uuid_user_id_is_422(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    response = await client.get("/api/v1/admin/users/not-a-uuid", headers=admin.headers)
    body = assert_problem(response, 422, "validation_error")
    assert ["path", "user_id"] in _error_locations(body)


async def test_non_uuid_session_id_is_422(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    response = await client.delete("/api/v1/auth/sessions/xyz", headers=account.headers)
    body = assert_problem(response, 422, "validation_error")
    assert ["path", "session_id"] in _error_locations(body)


@pytest.mark.parametrize("content", [b"", b" ", b"\n"])
async def test_empty_body_is_422(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(
        REGISTER, content=content, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422, "validation_error")


async def test_no_body_and_no_content_type_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN)
    assert_problem(response, 422, "validation_error")


def _oversized_json(size: int) -> bytes:
    padding = "x" * size
    return json.dumps({"name": padding, "email": unique_email(), "password": PASSWORD}).encode()


async def test_body_over_the_limit_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    content = _oversized_json(ONE_MIB)
    response = await client.post(
        REGISTER, content=content, headers={"Content-Type": "application/json"}
    )
    assert "content-length" in response.request.headers
    assert_problem(response, 413, "payload_too_large")
    assert response.headers["x-request-id"]


async def test_declared_length_over_the_limit_is_413_even_for_a_small_body(
    client: httpx.AsyncClient,
) -> None:
    body = json.dumps({"email": unique_email(), "password": PASSWORD}).encode()
    response = await client.post(
        LOGIN,
        content=body,
        headers={"Content-Type": "application/json", "Content-Length": str(ONE_MIB + 1)},
    )
    assert_problem(response, 413, "payload_too_large")


async def test_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    chunk = b"x" * 64 * 1024
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"name": "'
        for _ in range(40):
            sent += len(chunk)
            yield chunk
        yield b'", "email": "a@example.com", "password": "correct horse"}'

    response = await client.post(
        REGISTER, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "payload_too_large")
    assert sent <= ONE_MIB + 2 * len(chunk), "the body should be refused as it arrives"


async def test_body_just_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    body = json.dumps({"email": unique_email(), "password": PASSWORD}).encode()
    content = body + b" " * (ONE_MIB - len(body))
    assert len(content) == ONE_MIB
    response = await client.post(
        LOGIN, content=content, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 401, "invalid_credentials")


async def test_chunked_body_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    email = unique_email()
    body = json.dumps({"name": "Ann", "email": email, "password": PASSWORD}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    response = await client.post(
        REGISTER, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["email"] == email


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"name": ' + b"[" * 100_000],
    ids=["open", "balanced", "in-a-field"],
)
async def test_deeply_nested_json_is_a_4xx(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(
        REGISTER, content=content, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


async def test_json_sent_as_text_plain_is_a_4xx(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER,
        content=json.dumps(_register_body()).encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


async def test_form_body_on_a_json_route_is_a_4xx(client: httpx.AsyncClient) -> None:
    response = await client.post(REGISTER, data=_register_body())
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


async def test_multipart_body_on_a_json_route_is_a_4xx(client: httpx.AsyncClient) -> None:
    response = await client.post(
        LOGIN, files={"email": (None, unique_email()), "password": (None, PASSWORD)}
    )
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


async def test_json_body_on_the_form_login_route_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", json={"username": unique_email(), "password": PASSWORD}
    )
    assert_problem(response, 422, "validation_error")


async def test_invalid_utf8_is_a_4xx(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER, content=b'{"name": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


@pytest.mark.parametrize(
    "path", ["/nope", "/api/v1/nope", "/api/v2/auth/login", "/api/v1/users/me/extra"]
)
async def test_unknown_route_is_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert_problem(response, 404, "not_found")
    assert response.headers["x-request-id"]


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get(LOGIN)
    assert_problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]
    delete = await client.delete(REGISTER)
    assert_problem(delete, 405, "method_not_allowed")


async def test_unexpected_exception_is_a_bare_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(accounts, "login", crash)
    response = await client.post(LOGIN, json={"email": unique_email(), "password": PASSWORD})
    body = assert_problem(response, 500, "internal_error")
    assert body["title"] == "Internal Server Error"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "File " not in response.text
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_500_keeps_the_given_request_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts, "login", crash)
    response = await client.post(
        LOGIN,
        json={"email": unique_email(), "password": PASSWORD},
        headers={"X-Request-ID": "trace-500"},
    )
    assert_problem(response, 500, "internal_error")
    assert response.headers["x-request-id"] == "trace-500"


async def test_a_crash_rolls_back_the_request_and_the_app_keeps_serving(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_register = accounts.register

    async def register_then_crash(*args: Any, **kwargs: Any) -> Any:
        await real_register(*args, **kwargs)
        raise RuntimeError("after the insert")

    monkeypatch.setattr(accounts, "register", register_then_crash)
    body = _register_body()
    assert_problem(await client.post(REGISTER, json=body), 500, "internal_error")
    monkeypatch.setattr(accounts, "register", real_register)
    retried = await client.post(REGISTER, json=body)
    assert retried.status_code == 201, retried.text
