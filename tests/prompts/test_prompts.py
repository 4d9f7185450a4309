"""A user's own prompts: create, read, replace, update, delete, and who may touch them."""

import uuid
from typing import Any

import httpx
import pytest

from tests.prompts.support import (
    GREETING,
    PROMPTS,
    error_messages,
    list_page,
    make_prompt,
    prompt_url,
    render,
    variable,
)
from tests.support import assert_problem, make_account

FIELDS = {"id", "name", "description", "template", "variables", "created_at", "updated_at"}


async def test_create_returns_the_prompt_with_variable_defaults(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_account(client)
    response = await client.post(PROMPTS, json=GREETING, headers=owner.headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == FIELDS
    assert body["name"] == "Greeting"
    assert body["description"] == "Says hello"
    assert body["template"] == "Hello {{ name }}!"
    assert body["variables"] == [
        {"name": "name", "description": "Who to greet", "required": True, "default": None}
    ]
    uuid.UUID(body["id"])


async def test_create_needs_only_a_name_and_a_template(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await client.post(
        PROMPTS, json={"name": "  Plain  ", "template": "No variables."}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["description"], body["variables"]) == ("Plain", "", [])


@pytest.mark.parametrize("missing", ["name", "template"])
async def test_create_without_name_or_template_returns_422(
    client: httpx.AsyncClient, missing: str
) -> None:
    owner = await make_account(client)
    body = {key: value for key, value in GREETING.items() if key != missing}
    response = await client.post(PROMPTS, json=body, headers=owner.headers)
    problem = assert_problem(response, 422, "validation_error")
    assert error_messages(problem, "body", missing) == ["Field required"]


async def test_create_with_nothing_names_both_required_fields(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    problem = assert_problem(
        await client.post(PROMPTS, json={}, headers=owner.headers), 422, "validation_error"
    )
    assert [error["loc"] for error in problem["errors"]] == [["body", "name"], ["body", "template"]]


async def test_create_rejects_unknown_fields_and_nulls(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    for body in ({**GREETING, "owner_id": str(uuid.uuid4())}, {**GREETING, "description": None}):
        response = await client.post(PROMPTS, json=body, headers=owner.headers)
        assert_problem(response, 422, "validation_error")


async def test_get_returns_the_prompt(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)
    response = await client.get(prompt_url(prompt["id"]), headers=owner.headers)
    assert response.status_code == 200
    assert response.json() == prompt


async def test_get_unknown_prompt_returns_404(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await client.get(prompt_url(str(uuid.uuid4())), headers=owner.headers)
    assert_problem(response, 404, "prompt_not_found")


async def test_put_replaces_every_field(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)
    replacement = {"name": "Farewell", "template": "Bye {{ who }}.", "variables": [variable("who")]}

    response = await client.put(prompt_url(prompt["id"]), json=replacement, headers=owner.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Farewell"
    assert body["description"] == ""
    assert body["template"] == "Bye {{ who }}."
    assert [v["name"] for v in body["variables"]] == ["who"]
    assert body["created_at"] == prompt["created_at"]
    assert body["updated_at"] >= prompt["updated_at"]
    stored = await client.get(prompt_url(prompt["id"]), headers=owner.headers)
    assert stored.json() == body


async def test_put_needs_name_and_template(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)
    response = await client.put(prompt_url(prompt["id"]), json={"name": "X"}, headers=owner.headers)
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "template"]


async def test_patch_changes_only_the_given_fields(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)

    response = await client.patch(
        prompt_url(prompt["id"]), json={"description": "Warmer"}, headers=owner.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["description"] == "Warmer"
    assert {key: body[key] for key in ("name", "template", "variables")} == {
        key: prompt[key] for key in ("name", "template", "variables")
    }


async def test_patch_template_and_variables_together(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)
    change = {
        "template": "{{ greeting }}, {{ name }}",
        "variables": [variable("greeting", required=False, default="Hi"), variable("name")],
    }
    response = await client.patch(prompt_url(prompt["id"]), json=change, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["template"] == change["template"]


async def test_patch_validates_the_merged_prompt(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)
    url = prompt_url(prompt["id"])

    new_placeholder = await client.patch(
        url, json={"template": "Hello {{ name }} from {{ place }}"}, headers=owner.headers
    )
    problem = assert_problem(new_placeholder, 422, "validation_error")
    assert any("place" in msg for msg in error_messages(problem, "body", "template"))

    dropped_placeholder = await client.patch(
        url, json={"template": "Hello!"}, headers=owner.headers
    )
    problem = assert_problem(dropped_placeholder, 422, "validation_error")
    assert any("'name'" in msg for msg in error_messages(problem, "body", "variables"))

    extra_variable = await client.patch(
        url, json={"variables": [variable("name"), variable("unused")]}, headers=owner.headers
    )
    problem = assert_problem(extra_variable, 422, "validation_error")
    assert any("'unused'" in msg for msg in error_messages(problem, "body", "variables"))

    unchanged = await client.get(url, headers=owner.headers)
    assert unchanged.json() == prompt


@pytest.mark.parametrize("field", ["name", "template", "variables"])
async def test_patch_refuses_null(client: httpx.AsyncClient, field: str) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)
    response = await client.patch(
        prompt_url(prompt["id"]), json={field: None}, headers=owner.headers
    )
    assert_problem(response, 422, "validation_error")


async def test_delete_returns_204_and_the_prompt_is_gone(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)

    response = await client.delete(prompt_url(prompt["id"]), headers=owner.headers)

    assert response.status_code == 204
    assert response.content == b""
    again = await client.get(prompt_url(prompt["id"]), headers=owner.headers)
    assert_problem(again, 404, "prompt_not_found")
    assert (await list_page(client, owner))["total"] == 0


def every_request(prompt_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    url = prompt_url(prompt_id)
    return [
        ("GET", url, None),
        ("PUT", url, {"name": "Taken", "template": "Mine now"}),
        ("PATCH", url, {"name": "Taken"}),
        ("POST", f"{url}/render", {"variables": {"name": "x"}}),
        ("DELETE", url, None),
    ]


async def test_another_users_prompt_is_not_found(client: httpx.AsyncClient) -> None:
    alice = await make_account(client)
    bob = await make_account(client)
    prompt = await make_prompt(client, alice)

    for method, url, body in every_request(prompt["id"]):
        response = await client.request(method, url, json=body, headers=bob.headers)
        assert_problem(response, 404, "prompt_not_found")

    assert (await list_page(client, bob))["total"] == 0
    assert (await list_page(client, bob, q="Greeting"))["items"] == []
    still_there = await client.get(prompt_url(prompt["id"]), headers=alice.headers)
    assert still_there.json() == prompt


async def test_every_route_needs_authentication(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)
    requests = [
        ("GET", PROMPTS, None),
        ("POST", PROMPTS, GREETING),
        *every_request(prompt["id"]),
    ]
    for method, url, body in requests:
        response = await client.request(method, url, json=body)
        assert_problem(response, 401, "invalid_token")
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert_problem(await client.get(PROMPTS, headers=bad_token), 401, "invalid_token")


async def test_render_route_returns_the_text(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)
    response = await render(client, owner, prompt_url(prompt["id"]), {"name": "Ada"})
    assert response.status_code == 200, response.text
    assert response.json() == {"text": "Hello Ada!"}


async def test_list_is_newest_first_with_totals(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    for name in ("first", "second", "third"):
        await make_prompt(client, owner, name=name)

    page = await list_page(client, owner)

    assert [item["name"] for item in page["items"]] == ["third", "second", "first"]
    assert (page["total"], page["limit"], page["offset"]) == (3, 20, 0)
    assert set(page["items"][0]) == FIELDS


async def test_list_pages_with_limit_and_offset(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    for index in range(5):
        await make_prompt(client, owner, name=f"p{index}")

    first = await list_page(client, owner, limit=2, sort="name")
    last = await list_page(client, owner, limit=2, offset=4, sort="name")
    beyond = await list_page(client, owner, limit=2, offset=10, sort="name")

    assert [item["name"] for item in first["items"]] == ["p0", "p1"]
    assert [item["name"] for item in last["items"]] == ["p4"]
    assert beyond["items"] == []
    assert first["total"] == last["total"] == beyond["total"] == 5


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["alpha", "bravo", "charlie"]),
        ("-name", ["charlie", "bravo", "alpha"]),
        ("created_at", ["bravo", "charlie", "alpha"]),
        ("-created_at", ["alpha", "charlie", "bravo"]),
    ],
)
async def test_sort_orders(client: httpx.AsyncClient, sort: str, expected: list[str]) -> None:
    owner = await make_account(client)
    for name in ("bravo", "charlie", "alpha"):
        await make_prompt(client, owner, name=name)
    assert [item["name"] for item in (await list_page(client, owner, sort=sort))["items"]] == (
        expected
    )


async def test_sort_by_updated_at_puts_the_last_changed_first(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompts = [await make_prompt(client, owner, name=name) for name in ("a", "b", "c")]
    await client.patch(prompt_url(prompts[0]["id"]), json={"name": "a2"}, headers=owner.headers)

    newest = await list_page(client, owner, sort="-updated_at")
    oldest = await list_page(client, owner, sort="updated_at")

    assert [item["name"] for item in newest["items"]] == ["a2", "c", "b"]
    assert [item["name"] for item in oldest["items"]] == ["b", "c", "a2"]


@pytest.mark.parametrize("sort", ["template", "-owner_id", "--name", "-"])
async def test_unknown_sort_key_returns_422(client: httpx.AsyncClient, sort: str) -> None:
    owner = await make_account(client)
    response = await client.get(PROMPTS, params={"sort": sort}, headers=owner.headers)
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["query", "sort"]


async def test_search_matches_name_or_description_ignoring_case(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_account(client)
    await make_prompt(client, owner, name="Code review", description="")
    await make_prompt(client, owner, name="Summary", description="Summarise CODE changes")
    await make_prompt(client, owner, name="Poem", description="Verse")

    page = await list_page(client, owner, q="code", sort="name")

    assert [item["name"] for item in page["items"]] == ["Code review", "Summary"]
    assert page["total"] == 2


async def test_search_takes_wildcards_literally(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    await make_prompt(client, owner, name="100% done")
    await make_prompt(client, owner, name="1000 done")
    await make_prompt(client, owner, name="snake_case")
    await make_prompt(client, owner, name="snakeXcase")

    assert [i["name"] for i in (await list_page(client, owner, q="0%"))["items"]] == ["100% done"]
    assert [i["name"] for i in (await list_page(client, owner, q="e_c"))["items"]] == ["snake_case"]


async def test_search_does_not_look_at_the_template(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    await make_prompt(client, owner, name="Plain", description="", template="needle", variables=[])
    assert (await list_page(client, owner, q="needle"))["total"] == 0


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"q": "x" * 201}])
async def test_bad_list_parameters_return_422(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    owner = await make_account(client)
    response = await client.get(PROMPTS, params=params, headers=owner.headers)
    assert_problem(response, 422, "validation_error")
