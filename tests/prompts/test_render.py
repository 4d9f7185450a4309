"""Rendering: values and defaults substituted as literal text, and the values checked."""

from typing import Any

import httpx
import pytest

from tests.prompts.support import error_messages, make_prompt, prompt_url, render, variable
from tests.support import Account, assert_problem, make_account

# Each value must come out exactly as it went in.
HOSTILE_VALUES = [
    ("jinja dunder walk", "{{ ''.__class__.__mro__ }}"),
    ("jinja arithmetic", "{{7*7}}"),
    ("jinja block tag", "{% for %}"),
    ("jinja full loop", "{% for x in range(10) %}{{ x }}{% endfor %}"),
    ("jinja comment", "{# hidden #}"),
    ("another placeholder", "{{ other }}"),
    ("shell expansion", "${x}"),
    ("printf format", "%s %d %(name)s"),
    ("str.format field", "{0} {other} {other.__class__}"),
    ("backslashes", "\\n \\t \\u0041 \\\\"),
    ("control characters", "line\nbreak\ttab\r\x00nul"),
    ("html and quotes", "<script>alert('x')</script> \"quoted\""),
    ("ten thousand characters", "A" * 10_000),
    ("unicode", "héllo 世界 🙂 \u202e reversed \ufeff"),
    ("empty", ""),
]


async def two_variable_prompt(client: httpx.AsyncClient, owner: Account) -> str:
    prompt = await make_prompt(
        client,
        owner,
        template="[{{ x }}] [{{ other }}]",
        variables=[variable("x"), variable("other", required=False, default="O")],
    )
    return prompt_url(prompt["id"])


@pytest.mark.parametrize(
    "value", [value for _, value in HOSTILE_VALUES], ids=[label for label, _ in HOSTILE_VALUES]
)
async def test_hostile_value_is_rendered_verbatim(client: httpx.AsyncClient, value: str) -> None:
    owner = await make_account(client)
    url = await two_variable_prompt(client, owner)

    response = await render(client, owner, url, {"x": value})

    assert response.status_code == 200, response.text
    assert response.json() == {"text": f"[{value}] [O]"}


async def test_a_value_naming_another_variable_is_not_rendered_again(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_account(client)
    url = await two_variable_prompt(client, owner)
    response = await render(client, owner, url, {"x": "{{ other }}", "other": "{{ x }}"})
    assert response.json() == {"text": "[{{ other }}] [{{ x }}]"}


async def test_literal_braces_in_the_template_survive(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    template = "function() { return {{ value }}; } {x} {0} %s ${y} {#anchor} {{ value }}}"
    prompt = await make_prompt(client, owner, template=template, variables=[variable("value")])

    response = await render(client, owner, prompt_url(prompt["id"]), {"value": "1"})

    assert response.json() == {"text": "function() { return 1; } {x} {0} %s ${y} {#anchor} 1}"}


async def test_each_occurrence_gets_the_value(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner, template="{{ name }}, {{name}}, {{  name  }}")
    response = await render(client, owner, prompt_url(prompt["id"]), {"name": "Ada"})
    assert response.json() == {"text": "Ada, Ada, Ada"}


async def test_defaults_fill_optional_variables(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(
        client,
        owner,
        template="{{ greeting }}, {{ name }}{{ suffix }}",
        variables=[
            variable("greeting", required=False, default="Hello"),
            variable("name"),
            variable("suffix", required=False),
        ],
    )
    url = prompt_url(prompt["id"])

    defaults = await render(client, owner, url, {"name": "Ada"})
    given = await render(client, owner, url, {"name": "Ada", "greeting": "Hi", "suffix": "!"})
    emptied = await render(client, owner, url, {"name": "Ada", "greeting": ""})

    assert defaults.json() == {"text": "Hello, Ada"}
    assert given.json() == {"text": "Hi, Ada!"}
    assert emptied.json() == {"text": ", Ada"}


async def test_a_prompt_without_variables_renders_with_an_empty_body(
    client: httpx.AsyncClient,
) -> None:
    owner = await make_account(client)
    prompt = await make_prompt(client, owner, template="Static { text }", variables=[])
    response = await client.post(
        f"{prompt_url(prompt['id'])}/render", json={}, headers=owner.headers
    )
    assert response.json() == {"text": "Static { text }"}


async def test_missing_required_variable_is_named(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    url = await two_variable_prompt(client, owner)

    response = await render(client, owner, url, {"other": "given"})

    problem = assert_problem(response, 422, "validation_error")
    assert error_messages(problem, "body", "variables", "x") == ["Field required"]
    assert "'x'" in problem["detail"]


async def test_unknown_variables_are_named(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    url = await two_variable_prompt(client, owner)

    response = await render(client, owner, url, {"x": "1", "extra": "2", "more": "3"})

    problem = assert_problem(response, 422, "validation_error")
    assert [error["loc"] for error in problem["errors"]] == [
        ["body", "variables", "extra"],
        ["body", "variables", "more"],
    ]
    assert "'extra'" in problem["detail"]
    assert "'more'" in problem["detail"]


async def test_missing_and_unknown_are_reported_together(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    url = await two_variable_prompt(client, owner)
    problem = assert_problem(await render(client, owner, url, {"X": "1"}), 422)
    assert [error["type"] for error in problem["errors"]] == ["unknown", "missing"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(7, "7"), (-2, "-2"), (1.5, "1.5"), (True, "true"), (False, "false"), ("007", "007")],
)
async def test_numbers_and_booleans_are_stringified(
    client: httpx.AsyncClient, value: Any, text: str
) -> None:
    owner = await make_account(client)
    url = await two_variable_prompt(client, owner)
    response = await render(client, owner, url, {"x": value})
    assert response.json() == {"text": f"[{text}] [O]"}


@pytest.mark.parametrize("value", [None, [], ["a"], {}, {"a": "b"}])
async def test_objects_lists_and_null_are_refused(client: httpx.AsyncClient, value: Any) -> None:
    owner = await make_account(client)
    url = await two_variable_prompt(client, owner)
    problem = assert_problem(await render(client, owner, url, {"x": value}), 422)
    assert problem["errors"] == [
        {
            "loc": ["body", "variables", "x"],
            "msg": "must be a string, a number or a boolean",
            "type": "render_value",
        }
    ]


@pytest.mark.parametrize("body", [{"variables": []}, {"variables": "x"}, {"values": {}}])
async def test_malformed_render_body_is_refused(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    owner = await make_account(client)
    url = await two_variable_prompt(client, owner)
    response = await client.post(f"{url}/render", json=body, headers=owner.headers)
    assert_problem(response, 422, "validation_error")


async def test_oversized_value_is_refused(client: httpx.AsyncClient) -> None:
    owner = await make_account(client)
    url = await two_variable_prompt(client, owner)
    problem = assert_problem(await render(client, owner, url, {"x": "a" * 100_001}), 422)
    assert problem["errors"][0]["loc"] == ["body", "variables", "x"]
