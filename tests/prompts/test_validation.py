"""What a prompt may hold: template syntax, variable declarations, and their agreement."""

from typing import Any

import httpx
import pytest

from tests.prompts.support import (
    GREETING,
    PROMPTS,
    error_messages,
    make_prompt,
    prompt_url,
    variable,
)
from tests.support import Account, assert_problem, make_account

# Each template is refused at save time; the error names the offending text.
HOSTILE_TEMPLATES = [
    ("attribute access", "{{ x.y }}", "{{ x.y }}"),
    ("call", "{{ x() }}", "{{ x() }}"),
    ("filter", "{{ x|upper }}", "{{ x|upper }}"),
    ("arithmetic", "{{ 7*7 }}", "{{ 7*7 }}"),
    ("dunder walk", "{{ ''.__class__ }}", "{{ ''.__class__ }}"),
    ("subscript", "{{ x['y'] }}", "{{ x['y'] }}"),
    ("block tag", "{% for x in y %}{% endfor %}", "{% for x in y %}"),
    ("comment", "{# c #}", "{# c #}"),
    ("empty", "{{ }}", "{{ }}"),
    ("triple braces", "{{{ x }}}", "{{{ x }}}"),
    ("whitespace control", "{{- x -}}", "{{- x -}}"),
    ("unclosed", "{{ x }", "{{ x }"),
]


async def create(client: httpx.AsyncClient, owner: Account, **fields: Any) -> httpx.Response:
    return await client.post(PROMPTS, json={**GREETING, **fields}, headers=owner.headers)


@pytest.mark.parametrize(
    ("source", "offending"),
    [(source, offending) for _, source, offending in HOSTILE_TEMPLATES],
    ids=[label for label, _, _ in HOSTILE_TEMPLATES],
)
async def test_hostile_template_is_refused_at_save(
    client: httpx.AsyncClient, source: str, offending: str
) -> None:
    owner = await make_account(client)
    template = f"Hello {{{{ x }}}}. {source}"

    response = await create(client, owner, template=template, variables=[variable("x")])

    problem = assert_problem(response, 422, "validation_error")
    messages = error_messages(problem, "body", "template")
    assert len(messages) == 1
    assert offending in messages[0]
    assert offending in problem["detail"]
    assert (await client.get(PROMPTS, headers=owner.headers)).json()["total"] == 0


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_hostile_template_is_refused_on_replace_and_update(
    client: httpx.AsyncClient, method: str
) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner)
    body = {**GREETING, "template": "Hello {{ name.upper() }}"}

    response = await client.request(
        method, prompt_url(prompt["id"]), json=body, headers=owner.headers
    )

    problem = assert_problem(response, 422, "validation_error")
    assert "{{ name.upper() }}" in error_messages(problem, "body", "template")[0]
    assert (await client.get(prompt_url(prompt["id"]), headers=owner.headers)).json() == prompt


async def test_single_braces_and_lone_tag_openers_are_kept(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    template = "function() { return {{ value }}; } // {x} {0} %s ${y} {#anchor} 100{%}"
    prompt = await make_prompt(client, owner, template=template, variables=[variable("value")])
    assert prompt["template"] == template


async def test_undeclared_placeholder_is_named(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await create(client, owner, template="Hello {{ name }} from {{ city }}")
    problem = assert_problem(response, 422, "validation_error")
    assert error_messages(problem, "body", "template") == [
        "placeholder {{ city }} is not a declared variable"
    ]
    assert "city" in problem["detail"]


async def test_unused_variable_is_named(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await create(
        client, owner, variables=[variable("name"), variable("mood", required=False)]
    )
    problem = assert_problem(response, 422, "validation_error")
    assert error_messages(problem, "body", "variables") == [
        "variable 'mood' is declared but not used in the template"
    ]


async def test_both_disagreements_are_reported_together(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await create(client, owner, template="{{ a }}", variables=[variable("b")])
    problem = assert_problem(response, 422, "validation_error")
    assert [error["loc"] for error in problem["errors"]] == [
        ["body", "template"],
        ["body", "variables"],
    ]


async def test_many_undeclared_placeholders_are_reported_in_bounded_form(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_account(client)
    template = " ".join(f"{{{{ v{index} }}}}" for index in range(50))
    response = await create(client, owner, template=template, variables=[])
    problem = assert_problem(response, 422, "validation_error")
    assert len(problem["errors"]) == 21
    assert problem["errors"][-1]["msg"] == "and 30 more undeclared placeholders"


async def test_a_placeholder_may_repeat(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner, template="{{ name }} and {{name}} again")
    assert [v["name"] for v in prompt["variables"]] == ["name"]


async def test_template_of_32000_characters_is_accepted(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    template = "Hello {{ name }}!" + "x" * (32_000 - len("Hello {{ name }}!"))
    prompt = await make_prompt(client, owner, template=template)
    assert len(prompt["template"]) == 32_000


async def test_template_of_32001_characters_is_refused(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    template = "Hello {{ name }}!" + "x" * (32_001 - len("Hello {{ name }}!"))
    problem = assert_problem(await create(client, owner, template=template), 422)
    assert problem["errors"][0]["loc"] == ["body", "template"]


async def test_empty_template_is_refused(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    problem = assert_problem(await create(client, owner, template="", variables=[]), 422)
    assert problem["errors"][0]["loc"] == ["body", "template"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("name", "   "), ("name", "x" * 101), ("description", "x" * 2001)],
)
async def test_bad_name_or_description_is_refused(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    owner = await make_account(client)
    problem = assert_problem(await create(client, owner, **{field: value}), 422)
    assert problem["errors"][0]["loc"] == ["body", field]


@pytest.mark.parametrize(
    "name", ["", "1st", "first-name", "first name", "x.y", "名前", "é", "a" * 65, "x\n"]
)
async def test_bad_variable_name_is_refused(client: httpx.AsyncClient, name: str) -> None:
    owner = await make_account(client)
    response = await create(client, owner, template="Plain", variables=[variable(name)])
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "variables", 0, "name"]


@pytest.mark.parametrize("name", ["_", "x", "_private", "Name2", "a" * 64])
async def test_identifier_variable_names_are_accepted(client: httpx.AsyncClient, name: str) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(
        client, owner, template=f"{{{{ {name} }}}}", variables=[variable(name)]
    )
    assert prompt["variables"][0]["name"] == name


async def test_duplicate_variable_names_are_refused(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await create(client, owner, variables=[variable("name"), variable("name")])
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "variables"]
    assert "'name'" in problem["errors"][0]["msg"]


async def test_required_variable_with_a_default_is_refused(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    response = await create(client, owner, variables=[variable("name", default="you")])
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "variables", 0]
    assert "default" in problem["errors"][0]["msg"]


async def test_optional_variable_may_have_a_default(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(
        client, owner, variables=[variable("name", required=False, default="you")]
    )
    assert prompt["variables"][0] == {
        "name": "name",
        "description": "",
        "required": False,
        "default": "you",
    }


@pytest.mark.parametrize(
    "declaration",
    [
        {"name": "name", "description": "x" * 501},
        {"name": "name", "required": "sometimes"},
        {"name": "name", "required": False, "default": 3},
        {"name": "name", "type": "string"},
        {"description": "no name"},
    ],
)
async def test_bad_variable_declaration_is_refused(
    client: httpx.AsyncClient, declaration: dict[str, Any]
) -> None:
    owner = await make_account(client)
    problem = assert_problem(await create(client, owner, variables=[declaration]), 422)
    assert problem["errors"][0]["loc"][:3] == ["body", "variables", 0]


async def test_at_most_100_variables(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    for count, status in ((100, 201), (101, 422)):
        names = [f"v{index}" for index in range(count)]
        response = await create(
            client,
            owner,
            template=" ".join(f"{{{{ {name} }}}}" for name in names),
            variables=[variable(name) for name in names],
        )
        assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"name": "a\x00b"}, ["body", "name"]),
        ({"description": "\x00"}, ["body", "description"]),
        ({"template": "Hello {{ name }}\x00"}, ["body", "template"]),
        ({"variables": [variable("name", description="\x00")]}, ["body", "variables", 0]),
        (
            {"variables": [variable("name", required=False, default="\x00")]},
            ["body", "variables", 0],
        ),
    ],
)
async def test_nul_characters_are_refused(
    client: httpx.AsyncClient, fields: dict[str, Any], loc: list[Any]
) -> None:
    owner = await make_account(client)
    problem = assert_problem(await create(client, owner, **fields), 422, "validation_error")
    assert problem["errors"][0]["loc"][: len(loc)] == loc
    assert "NUL" in problem["errors"][0]["msg"]
