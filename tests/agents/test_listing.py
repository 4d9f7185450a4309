"""Listing agents: filters, search, sorting and pages."""

import httpx

from tests.agents.support import AGENTS, agent_url, list_agents, make_agent, make_project, names
from tests.support import assert_problem, make_account


async def test_list_is_newest_first_by_default(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    for name in ("first", "second", "third"):
        await make_agent(client, account, name=name)

    page = await list_agents(client, account)

    assert names(page) == ["third", "second", "first"]


async def test_sort_by_created_at_ascending(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    for name in ("first", "second", "third"):
        await make_agent(client, account, name=name)

    page = await list_agents(client, account, sort="created_at")

    assert names(page) == ["first", "second", "third"]


async def test_sort_by_name_ascending(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    for name in ("bravo", "charlie", "alpha"):
        await make_agent(client, account, name=name)

    page = await list_agents(client, account, sort="name")

    assert names(page) == ["alpha", "bravo", "charlie"]


async def test_sort_by_name_descending(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    for name in ("bravo", "charlie", "alpha"):
        await make_agent(client, account, name=name)

    page = await list_agents(client, account, sort="-name")

    assert names(page) == ["charlie", "bravo", "alpha"]


async def test_sort_by_updated_at_descending_puts_last_changed_first(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    oldest = await make_agent(client, account, name="oldest")
    await make_agent(client, account, name="newest")
    changed = await client.patch(
        agent_url(oldest["id"]), json={"name": "changed"}, headers=account.headers
    )
    assert changed.status_code == 200

    page = await list_agents(client, account, sort="-updated_at")

    assert names(page) == ["changed", "newest"]


async def test_unknown_sort_key_is_422_naming_sort(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.get(AGENTS, params={"sort": "temperature"}, headers=account.headers)

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["query", "sort"]


async def test_filter_by_status(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await make_agent(client, account, name="live")
    await make_agent(client, account, name="retired", status="archived")

    archived = await list_agents(client, account, status="archived")
    active = await list_agents(client, account, status="active")

    assert names(archived) == ["retired"]
    assert names(active) == ["live"]


async def test_filter_by_project(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    other = await make_project(client, account, name="Other")
    await make_agent(client, account, name="inside", project_id=project["id"])
    await make_agent(client, account, name="elsewhere", project_id=other["id"])
    await make_agent(client, account, name="loose")

    page = await list_agents(client, account, project_id=project["id"])

    assert names(page) == ["inside"]
    assert page["total"] == 1


async def test_filter_by_missing_project_is_404(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.get(
        AGENTS,
        params={"project_id": "00000000-0000-0000-0000-000000000001"},
        headers=account.headers,
    )

    assert_problem(response, 404, "project_not_found")


async def test_search_matches_name_case_insensitively(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await make_agent(client, account, name="Travel Planner")
    await make_agent(client, account, name="Chef")

    page = await list_agents(client, account, q="PLAN")

    assert names(page) == ["Travel Planner"]


async def test_search_matches_description(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await make_agent(client, account, name="Chef", description="Suggests Recipes")
    await make_agent(client, account, name="Coach")

    page = await list_agents(client, account, q="recipe")

    assert names(page) == ["Chef"]


async def test_search_ignores_instructions(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await make_agent(client, account, name="Chef", instructions="You cook pasta.")

    page = await list_agents(client, account, q="pasta")

    assert page["total"] == 0


async def test_search_treats_percent_literally(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await make_agent(client, account, name="100% honest")
    await make_agent(client, account, name="100 percent honest")

    page = await list_agents(client, account, q="100%")

    assert names(page) == ["100% honest"]


async def test_search_treats_underscore_literally(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await make_agent(client, account, name="snake_case")
    await make_agent(client, account, name="snakeXcase")

    page = await list_agents(client, account, q="e_c")

    assert names(page) == ["snake_case"]


async def test_filters_combine(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    project = await make_project(client, account)
    await make_agent(client, account, name="tutor", project_id=project["id"], status="archived")
    await make_agent(client, account, name="tutor", project_id=project["id"])
    await make_agent(client, account, name="tutor", status="archived")

    page = await list_agents(client, account, q="tut", status="archived", project_id=project["id"])

    assert page["total"] == 1
    assert page["items"][0]["project_id"] == project["id"]
    assert page["items"][0]["status"] == "archived"


async def test_first_page_holds_limit_items_and_the_full_total(
    client: httpx.AsyncClient,
) -> None:
    account = await make_account(client)
    for name in ("a", "b", "c"):
        await make_agent(client, account, name=name)

    page = await list_agents(client, account, limit=2, sort="name")

    assert names(page) == ["a", "b"]
    assert page["total"] == 3
    assert page["limit"] == 2
    assert page["offset"] == 0


async def test_offset_returns_the_remaining_items(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    for name in ("a", "b", "c"):
        await make_agent(client, account, name=name)

    page = await list_agents(client, account, limit=2, offset=2, sort="name")

    assert names(page) == ["c"]
    assert page["total"] == 3
    assert page["offset"] == 2


async def test_offset_past_the_end_is_an_empty_page(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await make_agent(client, account)

    page = await list_agents(client, account, offset=5)

    assert page["items"] == []
    assert page["total"] == 1
