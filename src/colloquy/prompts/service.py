"""Prompts: each user's templates and the common library admins curate.

Every save checks the template's syntax and that its placeholders are exactly the declared
variables; rendering fills in the values (and defaults) by substitution only.
"""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts import audit
from colloquy.accounts.models import User
from colloquy.core.errors import ValidationFailed
from colloquy.core.network import ClientInfo
from colloquy.core.pagination import PageParams
from colloquy.core.sorting import order_by
from colloquy.prompts import repository, template
from colloquy.prompts.errors import CommonPromptNotFound, PromptNotFound
from colloquy.prompts.models import CommonPrompt, Prompt
from colloquy.prompts.schemas import PromptCreate, PromptUpdate, PromptWrite, Variable

PROMPT_SORT_KEYS = {
    "name": Prompt.name,
    "created_at": Prompt.created_at,
    "updated_at": Prompt.updated_at,
}
COMMON_SORT_KEYS = {
    "name": CommonPrompt.name,
    "created_at": CommonPrompt.created_at,
    "updated_at": CommonPrompt.updated_at,
}
DEFAULT_SORT = "-created_at"
MAX_REPORTED = 20
AnyPrompt = Prompt | CommonPrompt


def _error(field: str, msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["body", field], "msg": msg, "type": kind}


def _capped(errors: list[dict[str, Any]], field: str, what: str) -> list[dict[str, Any]]:
    """At most MAX_REPORTED errors of one kind, then one that counts the rest."""
    if len(errors) <= MAX_REPORTED:
        return errors
    more = len(errors) - MAX_REPORTED
    return [*errors[:MAX_REPORTED], _error(field, f"and {more} more {what}", errors[0]["type"])]


def check_template(text: str, variables: Sequence[Variable]) -> None:
    """The template parses, and its placeholders are exactly the declared variables."""
    try:
        parsed = template.parse(text)
    except template.TemplateSyntaxError as exc:
        raise ValidationFailed(
            f"The template is not valid: {exc}",
            errors=[_error("template", str(exc), "template_syntax")],
        ) from None
    declared = [variable.name for variable in variables]
    used = parsed.names
    declared_set, used_set = set(declared), set(used)
    undeclared = [
        _error("template", f"placeholder {{{{ {name} }}}} is not a declared variable", "undeclared")
        for name in used
        if name not in declared_set
    ]
    unused = [
        _error("variables", f"variable {name!r} is declared but not used in the template", "unused")
        for name in declared
        if name not in used_set
    ]
    errors = [
        *_capped(undeclared, "template", "undeclared placeholders"),
        *_capped(unused, "variables", "unused variables"),
    ]
    if errors:
        summary = "; ".join(error["msg"] for error in errors[:3])
        raise ValidationFailed(
            f"The template's placeholders and the declared variables differ: {summary}.",
            errors=errors,
        )


def _variables(prompt: AnyPrompt) -> list[Variable]:
    return [Variable.model_validate(variable) for variable in prompt.variables]


def _stored(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Fields as the columns hold them: variables as plain JSON."""
    stored = dict(fields)
    if "variables" in stored:
        stored["variables"] = [variable.model_dump() for variable in stored["variables"]]
    return stored


def _whole(data: PromptWrite) -> dict[str, Any]:
    return {field: getattr(data, field) for field in PromptWrite.model_fields}


def _apply(prompt: AnyPrompt, changes: Mapping[str, Any]) -> list[str]:
    """Check the prompt as it would be after `changes`, then make them; returns what changed."""
    check_template(
        changes.get("template", prompt.template), changes.get("variables", _variables(prompt))
    )
    for field, value in _stored(changes).items():
        setattr(prompt, field, value)
    return sorted(changes)


def _value_error(name: str, msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["body", "variables", name], "msg": msg, "type": kind}


def render_prompt(prompt: AnyPrompt, *, values: Mapping[str, str]) -> str:
    """The prompt's text with these values; defaults (or "") fill optional variables left out."""
    variables = {variable.name: variable for variable in _variables(prompt)}
    unknown = [name for name in values if name not in variables]
    missing = [name for name, v in variables.items() if v.required and name not in values]
    if unknown or missing:
        problems = [
            f"{label} {', '.join(repr(name) for name in names)}"
            for label, names in (("unknown variables", unknown), ("missing variables", missing))
            if names
        ]
        raise ValidationFailed(
            f"The variables do not fit this prompt: {'; '.join(problems)}.",
            errors=[
                *(_value_error(name, "unknown variable", "unknown") for name in unknown),
                *(_value_error(name, "Field required", "missing") for name in missing),
            ],
        )
    resolved = {
        name: values.get(name, variable.default or "") for name, variable in variables.items()
    }
    return template.render(template.parse(prompt.template), resolved)


async def get_prompt(session: AsyncSession, *, owner: User, prompt_id: uuid.UUID) -> Prompt:
    """The caller's prompt; another user's, or none, is PromptNotFound (404)."""
    prompt = await repository.get_prompt(session, prompt_id=prompt_id, owner_id=owner.id)
    if prompt is None:
        raise PromptNotFound
    return prompt


async def list_prompts(
    session: AsyncSession, *, owner: User, q: str | None, sort: str | None, page: PageParams
) -> tuple[Sequence[Prompt], int]:
    ordering = order_by(sort, PROMPT_SORT_KEYS, default=DEFAULT_SORT, tie_breaker=Prompt.id)
    statement = repository.search_prompts(owner_id=owner.id, q=q).order_by(*ordering)
    return await repository.list_page(session, statement, page)


async def _copy_source(session: AsyncSession, data: PromptCreate) -> dict[str, Any]:
    if data.from_common_id is None:
        return {"description": "", "variables": []}
    common = await get_common_prompt(session, prompt_id=data.from_common_id)
    return {
        "name": common.name,
        "description": common.description,
        "template": common.template,
        "variables": _variables(common),
    }


async def create_prompt(session: AsyncSession, *, owner: User, data: PromptCreate) -> Prompt:
    """A new prompt, or a copy of a common prompt with the fields given here replaced."""
    fields = await _copy_source(session, data)
    fields.update(data.changes())
    fields.pop("from_common_id", None)
    missing = [field for field in ("name", "template") if field not in fields]
    if missing:
        raise ValidationFailed(
            f"Without from_common_id, {' and '.join(missing)} must be given.",
            errors=[_error(field, "Field required", "missing") for field in missing],
        )
    check_template(fields["template"], fields["variables"])
    prompt = Prompt(owner_id=owner.id, **_stored(fields))
    session.add(prompt)
    await session.flush()
    return prompt


async def replace_prompt(session: AsyncSession, *, prompt: Prompt, data: PromptWrite) -> Prompt:
    _apply(prompt, _whole(data))
    await session.flush()
    return prompt


async def update_prompt(session: AsyncSession, *, prompt: Prompt, data: PromptUpdate) -> Prompt:
    _apply(prompt, data.changes())
    await session.flush()
    return prompt


async def delete_prompt(session: AsyncSession, *, prompt: Prompt) -> None:
    await session.delete(prompt)
    await session.flush()


async def get_common_prompt(session: AsyncSession, *, prompt_id: uuid.UUID) -> CommonPrompt:
    prompt = await repository.get_common_prompt(session, prompt_id)
    if prompt is None:
        raise CommonPromptNotFound
    return prompt


async def list_common_prompts(
    session: AsyncSession, *, q: str | None, sort: str | None, page: PageParams
) -> tuple[Sequence[CommonPrompt], int]:
    ordering = order_by(sort, COMMON_SORT_KEYS, default=DEFAULT_SORT, tie_breaker=CommonPrompt.id)
    statement = repository.search_common_prompts(q=q).order_by(*ordering)
    return await repository.list_page(session, statement, page)


async def _audit(
    session: AsyncSession,
    *,
    action: str,
    admin: User,
    prompt: CommonPrompt,
    client: ClientInfo,
    data: dict[str, Any],
) -> None:
    await audit.record(
        session,
        action=f"admin.common_prompt_{action}",
        client=client,
        actor_id=admin.id,
        target_type="common_prompt",
        target_id=prompt.id,
        data=data,
    )


async def create_common_prompt(
    session: AsyncSession, *, admin: User, data: PromptWrite, client: ClientInfo
) -> CommonPrompt:
    check_template(data.template, data.variables)
    prompt = CommonPrompt(created_by=admin.id, **_stored(_whole(data)))
    session.add(prompt)
    await session.flush()
    await _audit(
        session,
        action="create",
        admin=admin,
        prompt=prompt,
        client=client,
        data={"name": data.name},
    )
    return prompt


async def replace_common_prompt(
    session: AsyncSession,
    *,
    admin: User,
    prompt: CommonPrompt,
    data: PromptWrite,
    client: ClientInfo,
) -> CommonPrompt:
    fields = _apply(prompt, _whole(data))
    await session.flush()
    await _audit(
        session, action="update", admin=admin, prompt=prompt, client=client, data={"fields": fields}
    )
    return prompt


async def update_common_prompt(
    session: AsyncSession,
    *,
    admin: User,
    prompt: CommonPrompt,
    data: PromptUpdate,
    client: ClientInfo,
) -> CommonPrompt:
    fields = _apply(prompt, data.changes())
    await session.flush()
    await _audit(
        session, action="update", admin=admin, prompt=prompt, client=client, data={"fields": fields}
    )
    return prompt


async def delete_common_prompt(
    session: AsyncSession, *, admin: User, prompt: CommonPrompt, client: ClientInfo
) -> None:
    await _audit(
        session,
        action="delete",
        admin=admin,
        prompt=prompt,
        client=client,
        data={"name": prompt.name},
    )
    await session.delete(prompt)
    await session.flush()
