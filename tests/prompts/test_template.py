"""The template language on its own: parsing into segments, and substitution."""

import pytest

from colloquy.prompts.template import (
    MissingValue,
    Placeholder,
    Template,
    TemplateSyntaxError,
    parse,
    render,
)

# Each is rejected, and the error names this exact text.
HOSTILE_TEMPLATES = [
    ("{{ x.y }}", "{{ x.y }}"),
    ("{{ x() }}", "{{ x() }}"),
    ("{{ x|upper }}", "{{ x|upper }}"),
    ("{{ x | upper }}", "{{ x | upper }}"),
    ("{{ 7*7 }}", "{{ 7*7 }}"),
    ("{{7*7}}", "{{7*7}}"),
    ("{{ ''.__class__ }}", "{{ ''.__class__ }}"),
    ("{{ x['y'] }}", "{{ x['y'] }}"),
    ("{{ x + y }}", "{{ x + y }}"),
    ("{{ 1 }}", "{{ 1 }}"),
    ("{{ 'text' }}", "{{ 'text' }}"),
    ("{{ }}", "{{ }}"),
    ("{{}}", "{{}}"),
    ("{{{ x }}}", "{{{ x }}}"),
    ("{{- x -}}", "{{- x -}}"),
    ("{{ x y }}", "{{ x y }}"),
    ("{{ é }}", "{{ é }}"),
    ("{{\tx }}", "{{\tx }}"),
    ("{{ x\n}}", "{{ x\n}}"),
    ("{% for x in y %}{% endfor %}", "{% for x in y %}"),
    ("{% if x %}yes{% endif %}", "{% if x %}"),
    ("{%x%}", "{%x%}"),
    ("{# c #}", "{# c #}"),
    ("{{ x }", "{{ x }"),
    ("{{ x", "{{ x"),
    ("{{", "{{"),
    ("{{ x } and {{ y }}", "{{ x } and {{ y }}"),
]


def test_text_without_placeholders_is_one_literal() -> None:
    assert parse("Just words.").segments == ("Just words.",)


def test_empty_text_has_no_segments() -> None:
    assert parse("").segments == ()


@pytest.mark.parametrize("source", ["{{name}}", "{{ name }}", "{{   name  }}", "{{name }}"])
def test_spaces_inside_the_braces_are_optional(source: str) -> None:
    assert parse(source).segments == (Placeholder("name"),)


def test_placeholders_split_the_literal_text() -> None:
    parsed = parse("Dear {{ title }} {{last_name}},\n")
    assert parsed.segments == (
        "Dear ",
        Placeholder("title"),
        " ",
        Placeholder("last_name"),
        ",\n",
    )


def test_names_are_listed_once_in_order_of_first_use() -> None:
    assert parse("{{ b }} {{ a }} {{ b }} {{ _c9 }}").names == ("b", "a", "_c9")


@pytest.mark.parametrize(
    "source",
    [
        "function() { return 1; }",
        "{ }",
        "{x}",
        "}}",
        "a } b }} c",
        '{"key": "value"}',
        "{0} and {name} and %s and ${x}",
        "## Heading {#anchor}",
        "100{%}",
        "{% without an end",
        "{# without an end",
    ],
)
def test_everything_else_is_literal_text(source: str) -> None:
    parsed = parse(source)
    assert parsed.names == ()
    assert render(parsed, {}) == source


def test_a_brace_after_a_placeholder_is_literal() -> None:
    assert parse('{"a": {{ x }}}').segments == ('{"a": ', Placeholder("x"), "}")


def test_a_lone_tag_opener_before_a_placeholder_stays_literal() -> None:
    assert parse("{% {{ x }}").segments == ("{% ", Placeholder("x"))


@pytest.mark.parametrize(("source", "offending"), HOSTILE_TEMPLATES)
def test_anything_but_a_plain_placeholder_is_rejected(source: str, offending: str) -> None:
    with pytest.raises(TemplateSyntaxError) as raised:
        parse(f"Before. {source} After.")
    assert raised.value.text.startswith(offending)
    assert repr(offending)[:-1] in str(raised.value)


def test_an_unclosed_placeholder_says_so() -> None:
    with pytest.raises(TemplateSyntaxError, match="never closed"):
        parse("Hello {{ name }")


def test_a_tag_is_rejected_even_after_valid_placeholders() -> None:
    with pytest.raises(TemplateSyntaxError, match="tags are not supported") as raised:
        parse("{{ a }} then {% raw %}")
    assert raised.value.position == len("{{ a }} then ")


def test_a_comment_is_rejected() -> None:
    with pytest.raises(TemplateSyntaxError, match="comments are not supported"):
        parse("{# note #}{{ a }}")


def test_the_error_gives_the_line() -> None:
    with pytest.raises(TemplateSyntaxError, match=r"\(line 3\)"):
        parse("one\ntwo {{ a }}\nthree {{ a.b }}")


def test_a_long_offending_text_is_shortened_in_the_message() -> None:
    source = "{{ " + "x " * 500 + "}}"
    with pytest.raises(TemplateSyntaxError) as raised:
        parse(source)
    assert raised.value.text == source
    assert len(str(raised.value)) < 300


def test_many_lone_openers_stay_literal() -> None:
    source = "{%{#" * 8000
    assert parse(source).segments == (source,)


def test_render_substitutes_each_placeholder() -> None:
    parsed = parse("{{ greeting }}, {{ name }}! {{ greeting }} again.")
    text = render(parsed, {"greeting": "Hi", "name": "Ada"})
    assert text == "Hi, Ada! Hi again."


@pytest.mark.parametrize(
    "value",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{7*7}}",
        "{% for x in y %}{% endfor %}",
        "{# c #}",
        "{{ other }}",
        "${x} %s {0} %(x)s",
        "\\n \\u0000 \x00",
    ],
)
def test_values_are_inserted_once_and_literally(value: str) -> None:
    parsed = parse("<{{ x }}|{{ other }}>")
    assert render(parsed, {"x": value, "other": "o"}) == f"<{value}|o>"


def test_render_needs_a_value_for_every_placeholder() -> None:
    with pytest.raises(MissingValue) as raised:
        render(parse("{{ a }} {{ b }}"), {"a": "1"})
    assert raised.value.name == "b"


def test_extra_values_are_ignored_by_render() -> None:
    assert render(parse("{{ a }}"), {"a": "1", "b": "2"}) == "1"


def test_a_template_is_immutable_and_comparable() -> None:
    assert parse("x {{ a }}") == Template(("x ", Placeholder("a")))
    with pytest.raises(AttributeError):
        parse("x").segments = ()  # type: ignore[misc]
