"""The model registry over HTTP: what users see and use, and what administrators change."""

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from colloquy.core.database import transaction
from colloquy.llm.models import Model
from tests.support import Account, assert_problem, make_account, make_admin

MODELS = "/api/v1/models"
MODEL_FIELDS = {
    "id",
    "name",
    "requests_per_minute",
    "tokens_per_minute",
    "provider",
    "provider_model",
    "context_window",
    "max_output_tokens",
    "description",
    "kind",
    "owner_id",
    "base_model_id",
    "is_default",
    "created_at",
    "updated_at",
}
NEW_MODEL: dict[str, Any] = {
    "name": "house-model",
    "provider": "dev",
    "provider_model": "house",
    "context_window": 4096,
    "max_output_tokens": 256,
    "description": "The house model.",
}


@pytest.fixture
def model_root(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture
def settings_overrides(model_root: Path) -> dict[str, Any]:
    return {"model_dirs": [str(model_root)]}


async def _own_model(app: FastAPI, owner: Account, name: str = "my-tuned") -> Model:
    model = Model(
        name=name,
        provider="dev",
        provider_model="tuned",
        context_window=2048,
        max_output_tokens=128,
        owner_id=uuid.UUID(owner.id),
    )
    async with transaction(app.state.database) as session:
        session.add(model)
    return model


async def _models(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.get(MODELS, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _create(client: httpx.AsyncClient, admin: Account, **fields: Any) -> dict[str, Any]:
    response = await client.post(MODELS, json={**NEW_MODEL, **fields}, headers=admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_fresh_install_has_the_development_model_as_default(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)

    page = await _models(client, account)

    assert page["total"] == 1
    (model,) = page["items"]
    assert set(model) == MODEL_FIELDS
    assert (model["name"], model["provider"], model["kind"]) == ("colloquy-dev", "dev", "base")
    assert model["is_default"] is True
    assert model["owner_id"] is None


async def test_list_shows_global_models_and_only_the_callers_own(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await make_account(client)
    other = await make_account(client)
    own = await _own_model(app, owner)

    mine = await _models(client, owner)
    theirs = await _models(client, other)

    assert [m["name"] for m in mine["items"]] == ["colloquy-dev", "my-tuned"]
    assert mine["items"][1]["owner_id"] == owner.id
    assert [m["name"] for m in theirs["items"]] == ["colloquy-dev"]
    for ref in (str(own.id), own.name):
        assert_problem(await client.get(f"{MODELS}/{ref}", headers=other.headers), 404)


async def test_get_model_by_id_or_by_name(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    (listed,) = (await _models(client, account))["items"]

    by_id = await client.get(f"{MODELS}/{listed['id']}", headers=account.headers)
    by_name = await client.get(f"{MODELS}/colloquy-dev", headers=account.headers)
    unknown = await client.get(f"{MODELS}/no-such-model", headers=account.headers)

    assert by_id.status_code == by_name.status_code == 200
    assert by_id.json() == by_name.json() == listed
    assert_problem(unknown, 404, "model_not_found")


async def test_admin_creates_a_global_model(client: httpx.AsyncClient, app: FastAPI) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)

    created = await _create(client, admin)

    assert set(created) == MODEL_FIELDS
    for field, value in NEW_MODEL.items():
        assert created[field] == value, field
    assert (created["is_default"], created["owner_id"], created["kind"]) == (False, None, "base")
    fetched = await client.get(f"{MODELS}/house-model", headers=account.headers)
    assert fetched.json() == created


async def test_only_admins_change_models(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    target = f"{MODELS}/colloquy-dev"
    before = await _models(client, account)

    created = await client.post(MODELS, json=NEW_MODEL, headers=account.headers)
    updated = await client.patch(target, json={"description": "mine"}, headers=account.headers)
    deleted = await client.delete(target, headers=account.headers)

    for response in (created, updated, deleted):
        assert_problem(response, 403, "admin_required")
    assert await _models(client, account) == before


async def test_a_taken_name_returns_409(client: httpx.AsyncClient, app: FastAPI) -> None:
    admin = await make_admin(app, client)
    await _create(client, admin)

    duplicate = await client.post(MODELS, json=NEW_MODEL, headers=admin.headers)
    renamed = await client.patch(
        f"{MODELS}/house-model", json={"name": "colloquy-dev"}, headers=admin.headers
    )

    assert_problem(duplicate, 409, "model_name_taken")
    assert_problem(renamed, 409, "model_name_taken")
    assert (await _models(client, admin))["total"] == 2


async def test_an_unknown_provider_returns_422(client: httpx.AsyncClient, app: FastAPI) -> None:
    admin = await make_admin(app, client)

    response = await client.post(
        MODELS, json={**NEW_MODEL, "provider": "nowhere"}, headers=admin.headers
    )

    assert_problem(response, 422)
    assert (await _models(client, admin))["total"] == 1


async def test_a_local_checkpoint_must_lie_under_a_model_dir(
    client: httpx.AsyncClient, app: FastAPI, model_root: Path, tmp_path: Path
) -> None:
    admin = await make_admin(app, client)
    (model_root / "tuned").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    refused = [
        await client.post(
            MODELS,
            json={**NEW_MODEL, "name": f"bad-{index}", "provider": "local", "provider_model": path},
            headers=admin.headers,
        )
        for index, path in enumerate([str(outside), str(model_root / ".." / "elsewhere"), "/"])
    ]
    inside = await _create(
        client, admin, provider="local", provider_model=str(model_root / "tuned")
    )
    relative = await _create(client, admin, name="relative", provider="local", provider_model="x")

    for response in refused:
        assert_problem(response, 422)
    assert inside["provider_model"] == str(model_root / "tuned")
    assert relative["provider"] == "local"
    moved = await client.patch(
        f"{MODELS}/relative", json={"provider_model": str(outside)}, headers=admin.headers
    )
    assert_problem(moved, 422)


async def test_one_model_is_the_default(client: httpx.AsyncClient, app: FastAPI) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    created = await _create(client, admin, is_default=True)

    defaults = [m["name"] for m in (await _models(client, account))["items"] if m["is_default"]]
    chat = (await client.post("/api/v1/chats", json={}, headers=account.headers)).json()
    reply = await client.post(
        f"/api/v1/chats/{chat['id']}/messages", json={"content": "hi"}, headers=account.headers
    )
    back = await client.patch(
        f"{MODELS}/colloquy-dev", json={"is_default": True}, headers=admin.headers
    )

    assert defaults == ["house-model"]
    assert reply.json()["assistant_message"]["model_id"] == created["id"]
    assert back.status_code == 200, back.text
    after = [m["name"] for m in (await _models(client, account))["items"] if m["is_default"]]
    assert after == ["colloquy-dev"]


async def test_admin_updates_a_model(client: httpx.AsyncClient, app: FastAPI) -> None:
    admin = await make_admin(app, client)
    created = await _create(client, admin)
    changes = {"name": "renamed", "context_window": 1024, "description": "Smaller."}

    response = await client.patch(f"{MODELS}/{created['id']}", json=changes, headers=admin.headers)

    assert response.status_code == 200, response.text
    for field, value in changes.items():
        assert response.json()[field] == value
    assert response.json()["max_output_tokens"] == NEW_MODEL["max_output_tokens"]
    assert_problem(await client.get(f"{MODELS}/house-model", headers=admin.headers), 404)


async def test_admin_reaches_a_users_own_model(client: httpx.AsyncClient, app: FastAPI) -> None:
    admin = await make_admin(app, client)
    owner = await make_account(client)
    own = await _own_model(app, owner)

    response = await client.patch(
        f"{MODELS}/{own.name}", json={"description": "checked"}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    fetched = await client.get(f"{MODELS}/{own.id}", headers=owner.headers)
    assert fetched.json()["description"] == "checked"


async def test_deleting_a_model_lets_its_chats_fall_back_to_the_default(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    admin = await make_admin(app, client)
    account = await make_account(client)
    created = await _create(client, admin)
    chat = (
        await client.post(
            "/api/v1/chats", json={"model_id": "house-model"}, headers=account.headers
        )
    ).json()

    response = await client.delete(f"{MODELS}/house-model", headers=admin.headers)

    assert response.status_code == 204
    assert_problem(await client.get(f"{MODELS}/{created['id']}", headers=account.headers), 404)
    summary = (await client.get(f"/api/v1/chats/{chat['id']}", headers=account.headers)).json()
    assert summary["model"] is None
    reply = await client.post(
        f"/api/v1/chats/{chat['id']}/messages", json={"content": "hi"}, headers=account.headers
    )
    dev = (await client.get(f"{MODELS}/colloquy-dev", headers=account.headers)).json()
    assert reply.json()["assistant_message"]["model_id"] == dev["id"]


@pytest.mark.parametrize(
    "body",
    [
        {**NEW_MODEL, "name": "has space"},
        {**NEW_MODEL, "context_window": 8},
        {**NEW_MODEL, "max_output_tokens": 0},
        {**NEW_MODEL, "owner_id": str(uuid.uuid4())},
        {key: value for key, value in NEW_MODEL.items() if key != "provider_model"},
    ],
)
async def test_create_with_a_bad_body_returns_422(
    client: httpx.AsyncClient, app: FastAPI, body: dict[str, Any]
) -> None:
    admin = await make_admin(app, client)

    response = await client.post(MODELS, json=body, headers=admin.headers)

    assert_problem(response, 422)


@pytest.mark.parametrize("body", [{"provider": "local"}, {"name": None}, {"context_window": 0}])
async def test_update_with_a_bad_body_returns_422(
    client: httpx.AsyncClient, app: FastAPI, body: dict[str, Any]
) -> None:
    admin = await make_admin(app, client)

    response = await client.patch(f"{MODELS}/colloquy-dev", json=body, headers=admin.headers)

    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", MODELS),
        ("GET", f"{MODELS}/colloquy-dev"),
        ("POST", MODELS),
        ("PATCH", f"{MODELS}/colloquy-dev"),
        ("DELETE", f"{MODELS}/colloquy-dev"),
    ],
)
async def test_without_credentials_returns_401(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json=NEW_MODEL)

    assert_problem(response, 401)


@pytest.mark.parametrize("settings_overrides", [{"dev_model_enabled": False}])
async def test_with_the_development_model_off_it_is_neither_listed_nor_usable(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    dev = Model(
        name="colloquy-dev",
        provider="dev",
        provider_model="colloquy-dev",
        context_window=8192,
        max_output_tokens=1024,
        is_default=True,
    )
    async with transaction(app.state.database) as session:
        session.add(dev)
    account = await make_account(client)

    listed = await _models(client, account)
    fetched = await client.get(f"{MODELS}/colloquy-dev", headers=account.headers)
    named = await client.post(
        "/api/v1/chats", json={"model_id": "colloquy-dev"}, headers=account.headers
    )
    chat = (await client.post("/api/v1/chats", json={}, headers=account.headers)).json()
    sent = await client.post(
        f"/api/v1/chats/{chat['id']}/messages", json={"content": "hi"}, headers=account.headers
    )

    assert listed["total"] == 0
    assert_problem(fetched, 404, "model_not_found")
    assert_problem(named, 404, "model_not_found")
    assert_problem(sent, 422, "no_model")
    messages = await client.get(f"/api/v1/chats/{chat['id']}/messages", headers=account.headers)
    assert messages.json()["items"] == []
