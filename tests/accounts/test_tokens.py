import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.support import Account, assert_problem, make_account, make_admin

ME = "/api/v1/users/me"


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def b64url(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(app: FastAPI, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, app.state.settings.signing_key, algorithm="HS256")


def sign_hmac(key: str, claims: dict[str, Any], algorithm: str) -> str:
    digest = {"HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
    signing_input = f"{b64url({'alg': algorithm, 'typ': 'JWT'})}.{b64url(claims)}"
    signature = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


async def assert_rejected(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get(ME, headers=headers)
    assert_problem(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_real_token_is_accepted(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.get(ME, headers=account.headers)

    assert response.status_code == 200, response.text
    assert response.json()["id"] == account.id


async def test_missing_authorization_header_is_rejected(client: httpx.AsyncClient) -> None:
    await assert_rejected(client, {})


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic xyz", "Bearer not.a.jwt", "xyz"])
async def test_malformed_authorization_header_is_rejected(
    client: httpx.AsyncClient, header: str
) -> None:
    await assert_rejected(client, {"Authorization": header})


async def test_unsigned_alg_none_token_is_rejected(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    claims = claims_of(account.access_token)
    token = f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims)}."

    await assert_rejected(client, bearer(token))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_token_signed_with_another_hmac_algorithm_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, algorithm: str
) -> None:
    account = await make_account(client)
    token = sign_hmac(app.state.settings.signing_key, claims_of(account.access_token), algorithm)

    await assert_rejected(client, bearer(token))


async def test_token_with_bad_signature_is_rejected(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    token = jwt.encode(claims_of(account.access_token), "wrong-key-" + "y" * 40, "HS256")

    await assert_rejected(client, bearer(token))


async def test_token_with_tampered_claims_is_rejected(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    other = await make_account(client)
    header, _, signature = account.access_token.split(".")
    forged = {**claims_of(account.access_token), "sub": other.id}

    await assert_rejected(client, bearer(f"{header}.{b64url(forged)}.{signature}"))


async def test_expired_token_is_rejected(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    past = datetime.now(UTC) - timedelta(minutes=20)
    claims = {
        **claims_of(account.access_token),
        "iat": past,
        "exp": past + timedelta(minutes=15),
    }

    await assert_rejected(client, bearer(sign(app, claims)))


async def test_token_of_refresh_type_is_rejected(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    claims = {**claims_of(account.access_token), "type": "refresh"}

    await assert_rejected(client, bearer(sign(app, claims)))


async def test_refresh_token_used_as_bearer_is_rejected(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    await assert_rejected(client, bearer(account.refresh_token))


@pytest.mark.parametrize("claim", ["exp", "sub", "sid", "type"])
async def test_token_missing_a_required_claim_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, claim: str
) -> None:
    account = await make_account(client)
    claims = claims_of(account.access_token)
    del claims[claim]

    await assert_rejected(client, bearer(sign(app, claims)))


@pytest.mark.parametrize("sid", ["not-a-uuid", 12345, None])
async def test_token_with_malformed_session_id_is_rejected(
    app: FastAPI, client: httpx.AsyncClient, sid: Any
) -> None:
    account = await make_account(client)
    claims = {**claims_of(account.access_token), "sid": sid}

    await assert_rejected(client, bearer(sign(app, claims)))


async def test_token_of_deleted_user_is_rejected(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    deleted = await client.request(
        "DELETE", ME, json={"password": account.password}, headers=account.headers
    )
    assert deleted.status_code == 204, deleted.text

    await assert_rejected(client, account.headers)


async def _deactivate(app: FastAPI, client: httpx.AsyncClient, account: Account) -> None:
    admin = await make_admin(app, client)
    response = await client.patch(
        f"/api/v1/admin/users/{account.id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200, response.text


async def test_token_of_deactivated_user_is_rejected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    await _deactivate(app, client, account)

    await assert_rejected(client, account.headers)


async def test_token_of_ended_login_is_rejected(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    logout = await client.post("/api/v1/auth/logout", json={"refresh_token": account.refresh_token})
    assert logout.status_code == 204

    await assert_rejected(client, account.headers)


async def test_token_for_unknown_user_with_real_session_is_rejected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    claims = {**claims_of(account.access_token), "sub": str(uuid.uuid4())}

    await assert_rejected(client, bearer(sign(app, claims)))


async def test_token_pairing_a_user_with_another_users_session_is_rejected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    account = await make_account(client)
    other = await make_account(client)
    claims = {**claims_of(account.access_token), "sid": claims_of(other.access_token)["sid"]}

    await assert_rejected(client, bearer(sign(app, claims)))
