"""The common prompt library: every user reads and renders it, administrators write it."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.prompts.support import (
    AUDIT_EVENTS,
    COMMON,
    GREETING,
    PROMPTS,
    common_url,
    list_page,
    make_common_prompt,
    make_prompt,
    names,
    prompt_url,
    render,
    variable,
)
from tests.support import Account, assert_problem, make_account, make_admin

FIELDS = {
    "id",
    "name",
    "description",
    "template",
    "variables",
    "created_at",
    "updated_at",
    "created_by",
}


async def audit_events(
    client: httpx.AsyncClient, admin: Account, action: str
) -> list[dict[str, Any]]:
    response = await client.get(AUDIT_EVENTS, params={"action": action}, headers=admin.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def write_requests(prompt_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", COMMON, GREETING),
        ("PUT", common_url(prompt_id), GREETING),
        ("PATCH", common_url(prompt_id), {"name": "Renamed"}),
        ("DELETE", common_url(prompt_id), None),
    ]


async def test_admin_creates_a_common_prompt(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    response = await client.post(COMMON, json=GREETING, headers=admin.headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == FIELDS
    assert body["created_by"] == admin.id
    assert body["template"] == GREETING["template"]
    assert body["variables"][0]["required"] is True


async def test_every_user_can_list_read_and_render(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    prompt = await make_common_prompt(client, admin)

    page = await list_page(client, user, COMMON)
    read = await client.get(common_url(prompt["id"]), headers=user.headers)
    rendered = await render(client, user, common_url(prompt["id"]), {"name": "Ada"})

    assert page["total"] == 1
    assert page["items"] == [prompt]
    assert read.json() == prompt
    assert rendered.json() == {"text": "Hello Ada!"}


async def test_common_render_checks_values_like_any_prompt(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    prompt = await make_common_prompt(client, admin)
    url = common_url(prompt["id"])

    missing = assert_problem(await render(client, user, url, {}), 422)
    unknown = assert_problem(await render(client, user, url, {"name": "a", "x": "b"}), 422)
    hostile = await render(client, user, url, {"name": "{{ ''.__class__.__mro__ }}"})

    assert missing["errors"][0]["loc"] == ["body", "variables", "name"]
    assert unknown["errors"][0]["loc"] == ["body", "variables", "x"]
    assert hostile.json() == {"text": "Hello {{ ''.__class__.__mro__ }}!"}


async def test_admin_replaces_updates_and_deletes(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    prompt = await make_common_prompt(client, admin)
    url = common_url(prompt["id"])

    replaced = await client.put(
        url, json={"name": "Bye", "template": "Bye.", "variables": []}, headers=admin.headers
    )
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["name"], replaced.json()["description"]) == ("Bye", "")

    updated = await client.patch(url, json={"description": "Short"}, headers=admin.headers)
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "Short"
    assert updated.json()["template"] == "Bye."

    deleted = await client.delete(url, headers=admin.headers)
    assert deleted.status_code == 204
    assert_problem(await client.get(url, headers=admin.headers), 404, "common_prompt_not_found")


async def test_admin_writes_are_audited(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    prompt = await make_common_prompt(client, admin)
    url = common_url(prompt["id"])
    await client.patch(url, json={"name": "Renamed"}, headers=admin.headers)
    await client.delete(url, headers=admin.headers)

    created = await audit_events(client, admin, "admin.common_prompt_create")
    updated = await audit_events(client, admin, "admin.common_prompt_update")
    deleted = await audit_events(client, admin, "admin.common_prompt_delete")

    for events in (created, updated, deleted):
        assert len(events) == 1
        assert events[0]["actor_id"] == admin.id
        assert events[0]["target_type"] == "common_prompt"
        assert events[0]["target_id"] == prompt["id"]
        assert events[0]["outcome"] == "success"
    assert created[0]["data"] == {"name": "Greeting"}
    assert updated[0]["data"] == {"fields": ["name"]}
    assert deleted[0]["data"] == {"name": "Renamed"}


async def test_refused_write_is_not_audited(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    response = await client.post(
        COMMON, json={**GREETING, "template": "{{ x.y }}"}, headers=admin.headers
    )
    assert_problem(response, 422, "validation_error")
    assert await audit_events(client, admin, "admin.common_prompt_create") == []


async def test_writes_are_for_admins_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    prompt = await make_common_prompt(client, admin)

    for prompt_id in (prompt["id"], str(uuid.uuid4())):
        for method, url, body in write_requests(prompt_id):
            response = await client.request(method, url, json=body, headers=user.headers)
            assert_problem(response, 403, "admin_required")

    assert (await client.get(common_url(prompt["id"]), headers=user.headers)).json() == prompt
    assert (await list_page(client, user, COMMON))["total"] == 1


async def test_non_admin_is_refused_before_the_body_is_checked(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    response = await client.post(COMMON, json={"template": "{{ x.y }}"}, headers=user.headers)
    assert_problem(response, 403, "admin_required")


async def test_every_route_needs_authentication(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    prompt = await make_common_prompt(client, admin)
    url = common_url(prompt["id"])
    requests = [
        ("GET", COMMON, None),
        ("GET", url, None),
        ("POST", f"{url}/render", {"variables": {"name": "x"}}),
        *write_requests(prompt["id"]),
    ]
    for method, target, body in requests:
        response = await client.request(method, target, json=body)
        assert_problem(response, 401, "invalid_token")


async def test_unknown_common_prompt_returns_404(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    url = common_url(str(uuid.uuid4()))

    assert_problem(await client.get(url, headers=user.headers), 404, "common_prompt_not_found")
    assert_problem(await render(client, user, url, {}), 404, "common_prompt_not_found")
    for method, target, body in write_requests(str(uuid.uuid4()))[1:]:
        response = await client.request(method, target, json=body, headers=admin.headers)
        assert_problem(response, 404, "common_prompt_not_found")


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("POST", {**GREETING, "template": "{% for x in y %}{% endfor %}"}),
        ("PUT", {**GREETING, "template": "{{ name|upper }}"}),
        ("PATCH", {"template": "Hello {{ name }} {{ extra }}"}),
        ("PATCH", {"variables": []}),
        ("POST", {**GREETING, "variables": [variable("name"), variable("name")]}),
    ],
)
async def test_common_prompts_are_validated_like_prompts(
    app: FastAPI, client: httpx.AsyncClient, method: str, body: dict[str, Any]
) -> None:
    admin = await make_admin(app, client)
    prompt = await make_common_prompt(client, admin)
    url = COMMON if method == "POST" else common_url(prompt["id"])

    response = await client.request(method, url, json=body, headers=admin.headers)

    assert_problem(response, 422, "validation_error")
    assert (await client.get(common_url(prompt["id"]), headers=admin.headers)).json() == prompt


async def test_common_prompts_are_not_the_callers_prompts(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    prompt = await make_common_prompt(client, admin)
    assert (await list_page(client, admin))["total"] == 0
    response = await client.get(prompt_url(prompt["id"]), headers=admin.headers)
    assert_problem(response, 404, "prompt_not_found")


async def test_list_searches_sorts_and_pages(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    await make_common_prompt(client, admin, name="bravo", description="Writing help")
    await make_common_prompt(client, admin, name="charlie", description="")
    await make_common_prompt(client, admin, name="alpha writer", description="")

    assert names(await list_page(client, user, COMMON)) == ["alpha writer", "charlie", "bravo"]
    assert names(await list_page(client, user, COMMON, sort="name")) == [
        "alpha writer",
        "bravo",
        "charlie",
    ]
    assert names(await list_page(client, user, COMMON, sort="created_at")) == [
        "bravo",
        "charlie",
        "alpha writer",
    ]
    searched = await list_page(client, user, COMMON, q="WRIT", sort="-name")
    assert (names(searched), searched["total"]) == (["bravo", "alpha writer"], 2)
    paged = await list_page(client, user, COMMON, limit=1, offset=1, sort="-name")
    assert (names(paged), paged["total"], paged["limit"], paged["offset"]) == (["bravo"], 3, 1, 1)
    bad_sort = await client.get(COMMON, params={"sort": "created_by"}, headers=user.headers)
    assert_problem(bad_sort, 422, "validation_error")


async def test_copy_a_common_prompt_into_your_prompts(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    common = await make_common_prompt(
        client, admin, variables=[variable("name", required=False, default="friend")]
    )

    response = await client.post(
        PROMPTS, json={"from_common_id": common["id"]}, headers=user.headers
    )

    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["id"] != common["id"]
    assert "created_by" not in copy
    for field in ("name", "description", "template", "variables"):
        assert copy[field] == common[field]
    assert (await list_page(client, user))["items"] == [copy]
    rendered = await render(client, user, prompt_url(copy["id"]), {})
    assert rendered.json() == {"text": "Hello friend!"}


async def test_fields_given_with_the_copy_replace_the_copied_ones(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    common = await make_common_prompt(client, admin)
    body = {
        "from_common_id": common["id"],
        "name": "My greeting",
        "template": "Hi {{ who }}, {{ mood }}?",
        "variables": [variable("who"), variable("mood", required=False, default="well")],
    }

    response = await client.post(PROMPTS, json=body, headers=user.headers)

    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["name"] == "My greeting"
    assert copy["description"] == common["description"]
    assert copy["template"] == body["template"]
    assert [v["name"] for v in copy["variables"]] == ["who", "mood"]


async def test_an_override_must_agree_with_the_copied_fields(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    common = await make_common_prompt(client, admin)

    response = await client.post(
        PROMPTS,
        json={"from_common_id": common["id"], "template": "Hi {{ who }}"},
        headers=user.headers,
    )

    problem = assert_problem(response, 422, "validation_error")
    assert {tuple(error["loc"]) for error in problem["errors"]} == {
        ("body", "template"),
        ("body", "variables"),
    }


async def test_copy_from_an_unknown_common_prompt_returns_404(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    response = await client.post(
        PROMPTS, json={"from_common_id": str(uuid.uuid4()), **GREETING}, headers=user.headers
    )
    assert_problem(response, 404, "common_prompt_not_found")
    assert (await list_page(client, user))["total"] == 0


async def test_copy_from_a_users_own_prompt_id_is_not_found(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    own = await make_prompt(client, user)
    response = await client.post(PROMPTS, json={"from_common_id": own["id"]}, headers=user.headers)
    assert_problem(response, 404, "common_prompt_not_found")


async def test_null_from_common_id_means_a_fresh_prompt(client: httpx.AsyncClient) -> None:
    user = await make_account(client)
    fresh = await client.post(
        PROMPTS, json={"from_common_id": None, **GREETING}, headers=user.headers
    )
    empty = await client.post(PROMPTS, json={"from_common_id": None}, headers=user.headers)
    assert fresh.status_code == 201, fresh.text
    assert_problem(empty, 422, "validation_error")


async def test_the_copy_is_independent_of_the_original(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await make_admin(app, client)
    user = await make_account(client)
    common = await make_common_prompt(client, admin)
    copy = (
        await client.post(PROMPTS, json={"from_common_id": common["id"]}, headers=user.headers)
    ).json()

    await client.patch(common_url(common["id"]), json={"name": "Changed"}, headers=admin.headers)
    await client.delete(common_url(common["id"]), headers=admin.headers)

    kept = await client.get(prompt_url(copy["id"]), headers=user.headers)
    assert kept.json() == copy
