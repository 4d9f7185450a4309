"""The template language: literal text and `{{ name }}` placeholders, nothing else.

A template is parsed once into segments; rendering joins the literal segments with the values
given for the placeholders. Nothing is ever evaluated, and a value is inserted as it is: a value
that looks like a placeholder or a tag stays literal text.

Rules:
- `{{ name }}`, with optional spaces inside the braces, is a placeholder; `name` is an ASCII
  identifier. It ends at the first `}}`, so `{{ name }}}` is a placeholder followed by a `}`.
- Any other `{{ ... }}` (attributes, calls, filters, expressions, an empty or nested one) is an
  error, and so is a `{{` that is never closed: it is almost always a mistyped placeholder.
- `{% ... %}` and `{# ... #}` (tags and comments of other template languages) are errors. A `{%`
  or `{#` with no closing `%}` or `#}` after it is literal text, as in Markdown's `{#anchor}`.
- Everything else, single braces included, is literal text. A template that needs a literal
  `{{` can take it from a variable whose default is `{{`.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
_PLACEHOLDER = re.compile(rf" *({NAME_PATTERN}) *")
_OPENER = re.compile(r"\{[{%#]")
_EXCERPT = 60


class TemplateSyntaxError(ValueError):
    """The template uses something other than `{{ name }}` placeholders."""

    def __init__(self, message: str, *, text: str, position: int) -> None:
        super().__init__(message)
        self.text = text
        self.position = position


class MissingValue(LookupError):
    """`render` was not given a value for one of the template's placeholders."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no value for {{{{ {name} }}}}")
        self.name = name


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str


Segment = str | Placeholder


@dataclass(frozen=True, slots=True)
class Template:
    segments: tuple[Segment, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The placeholders' names, each once, in order of first use."""
        seen = dict.fromkeys(s.name for s in self.segments if isinstance(s, Placeholder))
        return tuple(seen)


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


def _line(source: str, position: int) -> int:
    return source.count("\n", 0, position) + 1


def _placeholder_error(source: str, start: int, end: int) -> TemplateSyntaxError:
    while end < len(source) and source[end] == "}":
        end += 1  # name all of `{{{ x }}}`, not `{{{ x }}`
    text = source[start:end]
    message = (
        f"{_excerpt(text)!r} (line {_line(source, start)}) is not allowed: "
        "a placeholder is {{ name }}, a variable name between double braces, with no "
        "attributes, calls, filters or expressions"
    )
    return TemplateSyntaxError(message, text=text, position=start)


def _unclosed_error(source: str, start: int) -> TemplateSyntaxError:
    text = source[start : start + 20]
    message = f"{_excerpt(text)!r} (line {_line(source, start)}): '{{{{' is never closed by '}}}}'"
    return TemplateSyntaxError(message, text=text, position=start)


def _tag_error(source: str, start: int, end: int) -> TemplateSyntaxError:
    text = source[start:end]
    kind = "comments" if text.startswith("{#") else "tags"
    message = (
        f"{_excerpt(text)!r} (line {_line(source, start)}) is not allowed: template {kind} "
        "are not supported, only {{ name }} placeholders"
    )
    return TemplateSyntaxError(message, text=text, position=start)


def parse(source: str) -> Template:
    """Split `source` into literal text and placeholders; raise TemplateSyntaxError otherwise."""
    segments: list[Segment] = []
    literal_start = position = 0
    # Once a closer is missing after one opener it is missing after every later one: remember
    # that, so a text full of lone `{%` is scanned once, not once per opener.
    unclosed_kinds: set[str] = set()
    while match := _OPENER.search(source, position):
        start = match.start()
        kind = source[start + 1]
        if kind == "{":
            end = source.find("}}", start + 2)
            if end == -1:
                raise _unclosed_error(source, start)
            placeholder = _PLACEHOLDER.fullmatch(source, start + 2, end)
            if placeholder is None:
                raise _placeholder_error(source, start, end + 2)
            if start > literal_start:
                segments.append(source[literal_start:start])
            segments.append(Placeholder(placeholder.group(1)))
            literal_start = position = end + 2
            continue
        end = -1 if kind in unclosed_kinds else source.find(kind + "}", start + 2)
        if end != -1:
            raise _tag_error(source, start, end + 2)
        unclosed_kinds.add(kind)
        position = start + 1
    if literal_start < len(source):
        segments.append(source[literal_start:])
    return Template(tuple(segments))


def render(template: Template, values: Mapping[str, str]) -> str:
    """The template's text with each placeholder replaced by its value, taken literally."""
    parts: list[str] = []
    for segment in template.segments:
        if isinstance(segment, str):
            parts.append(segment)
        elif segment.name in values:
            parts.append(values[segment.name])
        else:
            raise MissingValue(segment.name)
    return "".join(parts)
